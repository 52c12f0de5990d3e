/*
 * log.h - the process-wide logger: console, file or syslog, with levels.
 *
 * Every line names the component and, where there is one, the id of the
 * task, session or queue item it is about: the caller passes both
 * explicitly (no macro reads a local variable behind the caller's back).
 * Writes are single write(2) calls of whole lines, so several worker
 * processes can share one file without interleaving inside a line.
 */
#ifndef LOG_LOG_H
#define LOG_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "core/common.h"

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERR,
	LOG_LEVEL_CRIT,
	LOG_LEVEL_SILENT,
};

enum log_type {
	LOG_TYPE_CONSOLE,
	LOG_TYPE_FILE,
	LOG_TYPE_SYSLOG,
};

struct log_settings {
	enum log_type type;
	enum log_level level;
	const char *filename; /* LOG_TYPE_FILE */
	const char *facility; /* LOG_TYPE_SYSLOG, e.g. "mail" or "local0" */
};

/*
 * Switch the logger to `settings` (copied). On failure (file cannot be
 * opened, unknown facility) the previous sink stays and -1 is returned with
 * a static or heap reason in *error_r (heap: caller frees).
 */
int log_configure(const struct log_settings *settings, char **error_r);
/* Re-open a file sink (after rotation). */
void log_reopen(void);
/* Process title used in every line, e.g. "main" or "normal". Borrowed. */
void log_set_process(const char *name);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Accepts Rspamd's names: error, warning, notice, info, debug, silent. */
int log_level_parse(const char *name, enum log_level *level_r);

void log_msg(enum log_level level, const char *component, const char *id,
    const char *fmt, ...) PRINTF_LIKE(4, 5);
void log_vmsg(enum log_level level, const char *component, const char *id,
    const char *fmt, va_list ap) PRINTF_LIKE(4, 0);

/*
 * One observer of warnings and errors (the controller's /errors ring):
 * called with every formatted message at LOG_LEVEL_WARN or above, after
 * the level filter. It must not log, block or allocate from task pools.
 * NULL removes it.
 */
typedef void log_hook_fn(enum log_level level, const char *process,
    const char *component, const char *id, const char *msg);
void log_set_hook(log_hook_fn *fn);

void log_error(const char *component, const char *id, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_warn(const char *component, const char *id, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_notice(const char *component, const char *id, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_info(const char *component, const char *id, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_debug(const char *component, const char *id, const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif
