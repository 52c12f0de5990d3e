/*
 * supervisor.h - the main process: binds sockets, forks and supervises
 * workers, reloads on SIGHUP, stops on SIGTERM.
 */
#ifndef WORKER_SUPERVISOR_H
#define WORKER_SUPERVISOR_H

struct config;
struct scan_engine;

/*
 * Runs until SIGTERM/SIGINT. Takes the reference in `cfg` and ownership of
 * `engine` (built from cfg; workers inherit it). `conf_path` and
 * `state_dir` (may be NULL) are borrowed and used for reloads.
 * Returns the process exit code.
 */
int supervisor_run(struct config *cfg, struct scan_engine *engine, const char *conf_path,
    const char *state_dir);

#endif
