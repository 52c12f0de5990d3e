/*
 * settings_store.h - what the web UI edits (action thresholds, symbol
 * weights, map files) written to the site's override files, and the
 * reload that makes every worker use them.
 *
 * Files are replaced atomically (a temporary file in the same directory,
 * fsync, rename, fsync of the directory), so a reader (the next reload, a
 * map watcher) sees the old or the new content, never half of it. A
 * config file is checked by loading the whole configuration with it
 * before anyone is asked to reload; a file that breaks the config is put
 * back as it was.
 */
#ifndef WORKER_SETTINGS_STORE_H
#define WORKER_SETTINGS_STORE_H

#include <stddef.h>

struct config;
struct ev_loop;
struct obj;

/* Atomic replace of `path` (mode 0640 when new, else the old mode).
 * 0, or -1 with a heap *error_r. */
int settings_store_write(const char *path, const char *data, size_t len, char **error_r);

/* The UCL body of `path` as an object (an empty one when the file does
 * not exist); NULL with a heap *error_r when it cannot be parsed. */
struct obj *settings_store_load(const char *path, char **error_r);

/*
 * Writes `o` (an object: the section body) to <local_confdir>/local.d/<name>
 * in UCL form after a comment saying the web UI wrote it, then checks that
 * the whole configuration still loads; if not, the previous file is put
 * back. 0, or -1 with a heap *error_r.
 */
int settings_store_save_local(const struct config *cfg, const char *name,
    const struct obj *o, char **error_r);

/* Path of <local_confdir>/local.d/<name> (heap). */
char *settings_store_local_path(const struct config *cfg, const char *name);

/*
 * Asks the supervisor (the parent process) to reload the configuration,
 * shortly after `loop` had a chance to send the current reply: the old
 * workers finish what they are doing, the new ones use the new files.
 */
void settings_store_request_reload(struct ev_loop *loop);

#endif
