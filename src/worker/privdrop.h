/*
 * privdrop.h - running the workers as an unprivileged user when the daemon
 * starts as root (DESIGN.md section 7).
 *
 * The main process stays root: it binds the ports (also on reload) and
 * forks. Each worker switches to the run user right after the fork, before
 * it reads a single byte from the network. The run user is chosen as:
 *   1. options { user = "NAME"; group = "NAME"; } when `user` is set
 *      (group defaults to the user's primary group);
 *   2. else the owner of the state dir, when that owner is not root
 *      (chown the state dir to the mail user and nothing else is needed);
 *   3. else nobody: the workers stay root and a warning is logged.
 * Not root at start: nothing changes.
 */
#ifndef WORKER_PRIVDROP_H
#define WORKER_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

struct config;

struct privdrop {
	bool active;
	uid_t uid;
	gid_t gid;
	char name[64];  /* for log lines */
};

/*
 * Decides the run user for `cfg` into *pd_r (inactive when not root or
 * when there is nobody to drop to). -1 with a heap *error_r when
 * options.user/group names something that does not exist.
 */
int privdrop_plan(const struct config *cfg, struct privdrop *pd_r, char **error_r);

/*
 * Hands the files the main process created as root under `state_dir`
 * (directories, databases, the log) to the run user, so workers can write
 * them. Only root-owned entries change; symlinks are never followed and
 * files with several hard links are skipped (the user controls the tree
 * and must not get root's files through it). No-op when inactive. -1 with
 * a heap *error_r.
 */
int privdrop_prepare_state(const struct privdrop *pd, const char *state_dir,
    char **error_r);

/*
 * In a freshly forked worker: drops supplementary groups, gid and uid, and
 * checks root cannot be regained. -1 with a heap *error_r: the worker must
 * then exit rather than serve as root.
 */
int privdrop_apply(const struct privdrop *pd, char **error_r);

#endif
