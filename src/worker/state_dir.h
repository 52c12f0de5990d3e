/*
 * state_dir.h - the directory tree where the daemon keeps everything it
 * writes (DESIGN.md section 3): db/, spool/, mail/, tls/, dkim/, run/, log/.
 */
#ifndef WORKER_STATE_DIR_H
#define WORKER_STATE_DIR_H

/* Creates the tree (mode 0750) where missing. -1 with a heap *error_r. */
int state_dir_prepare(const char *state_dir, char **error_r);

/*
 * Writes our pid to `path` unless a live process already owns it, so a
 * second instance on the same state dir refuses to start. -1 with *error_r.
 */
int pidfile_write(const char *path, char **error_r);

#endif
