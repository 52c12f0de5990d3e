/*
 * log.c - console, file and syslog sinks.
 *
 * Lines look like Rspamd's: "2026-11-29 20:40:00.123 #1234(normal) <id>;
 * component; message". The file sink is opened O_APPEND and each line is one
 * write(2), so concurrent workers do not interleave within a line. The
 * logger never allocates from task pools and never blocks on anything but
 * the write itself.
 */
#include "log/log.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static struct {
	enum log_type type;
	enum log_level level;
	int fd;
	char *filename;
	const char *process;
} logger = { LOG_TYPE_CONSOLE, LOG_LEVEL_INFO, -1, NULL, "main" };

static log_hook_fn *log_hook;

void
log_set_hook(log_hook_fn *fn)
{
	log_hook = fn;
}

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	{ "debug", LOG_LEVEL_DEBUG },   { "info", LOG_LEVEL_INFO },
	{ "notice", LOG_LEVEL_NOTICE }, { "warning", LOG_LEVEL_WARN },
	{ "warn", LOG_LEVEL_WARN },     { "error", LOG_LEVEL_ERR },
	{ "err", LOG_LEVEL_ERR },       { "crit", LOG_LEVEL_CRIT },
	{ "silent", LOG_LEVEL_SILENT },
};

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "mail", LOG_MAIL },     { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(name, level_names[i].name) == 0) {
			*level_r = level_names[i].level;
			return 0;
		}
	}
	return -1;
}

static int
facility_parse(const char *name, int *value_r)
{
	if (name == NULL || *name == '\0') {
		*value_r = LOG_MAIL;
		return 0;
	}
	if (strncasecmp(name, "log_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < ARRAY_SIZE(facilities); i++) {
		if (strcasecmp(name, facilities[i].name) == 0) {
			*value_r = facilities[i].value;
			return 0;
		}
	}
	return -1;
}

int
log_configure(const struct log_settings *s, char **error_r)
{
	int fd = -1, facility = LOG_MAIL;

	if (s->type == LOG_TYPE_FILE) {
		if (s->filename == NULL || *s->filename == '\0') {
			*error_r = xstrdup("logging type \"file\" needs a filename");
			return -1;
		}
		fd = open(s->filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			*error_r = xasprintf("cannot open log file %s: %s", s->filename,
			    strerror(errno));
			return -1;
		}
	} else if (s->type == LOG_TYPE_SYSLOG) {
		if (facility_parse(s->facility, &facility) < 0) {
			*error_r = xstrdup("unknown syslog facility");
			return -1;
		}
		openlog("rspamd", LOG_PID | LOG_NDELAY, facility);
	}
	if (logger.fd >= 0)
		close(logger.fd);
	free(logger.filename);
	logger.filename = s->filename != NULL ? xstrdup(s->filename) : NULL;
	logger.fd = fd;
	logger.type = s->type;
	logger.level = s->level;
	return 0;
}

void
log_reopen(void)
{
	int fd;

	if (logger.type != LOG_TYPE_FILE || logger.filename == NULL)
		return;
	fd = open(logger.filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	if (logger.fd >= 0)
		close(logger.fd);
	logger.fd = fd;
}

void
log_set_process(const char *name)
{
	logger.process = name;
}

enum log_level
log_get_level(void)
{
	return logger.level;
}

bool
log_enabled(enum log_level level)
{
	return level != LOG_LEVEL_SILENT && level >= logger.level;
}

static int
syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return LOG_DEBUG;
	case LOG_LEVEL_INFO: return LOG_INFO;
	case LOG_LEVEL_NOTICE: return LOG_NOTICE;
	case LOG_LEVEL_WARN: return LOG_WARNING;
	case LOG_LEVEL_ERR: return LOG_ERR;
	default: return LOG_CRIT;
	}
}

static const char *
level_tag(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return "debug";
	case LOG_LEVEL_INFO: return "info";
	case LOG_LEVEL_NOTICE: return "notice";
	case LOG_LEVEL_WARN: return "warn";
	case LOG_LEVEL_ERR: return "error";
	default: return "crit";
	}
}

/* Control characters would let message content forge log lines. */
static void
sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			s[i] = '?';
	}
}

void
log_vmsg(enum log_level level, const char *component, const char *id,
    const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	char msg[LOG_LINE_MAX - 256];
	struct timeval tv;
	struct tm tm;
	int n;

	if (!log_enabled(level))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	sanitize(msg, strlen(msg));
	if (log_hook != NULL && level >= LOG_LEVEL_WARN && level < LOG_LEVEL_SILENT)
		log_hook(level, logger.process, component, id, msg);
	if (logger.type == LOG_TYPE_SYSLOG) {
		syslog(syslog_priority(level), "%s(%s) <%s>; %s; %s", level_tag(level),
		    logger.process, id != NULL ? id : "", component, msg);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line) - 1,
	    "%04d-%02d-%02d %02d:%02d:%02d.%03d #%d(%s) %s <%s>; %s; %s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(tv.tv_usec / 1000), (int)getpid(), logger.process,
	    level_tag(level), id != NULL ? id : "", component, msg);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(logger.type == LOG_TYPE_FILE && logger.fd >= 0 ? logger.fd : STDERR_FILENO,
		line, (size_t)n) < 0) {
		/* Nowhere left to report a failing log sink. */
	}
}

void
log_msg(enum log_level level, const char *component, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, component, id, fmt, ap);
	va_end(ap);
}

#define LOG_AT(fn, lvl)                                                           \
	void fn(const char *component, const char *id, const char *fmt, ...)      \
	{                                                                         \
		va_list ap;                                                       \
		va_start(ap, fmt);                                                \
		log_vmsg(lvl, component, id, fmt, ap);                            \
		va_end(ap);                                                       \
	}

LOG_AT(log_error, LOG_LEVEL_ERR)
LOG_AT(log_warn, LOG_LEVEL_WARN)
LOG_AT(log_notice, LOG_LEVEL_NOTICE)
LOG_AT(log_info, LOG_LEVEL_INFO)
LOG_AT(log_debug, LOG_LEVEL_DEBUG)
