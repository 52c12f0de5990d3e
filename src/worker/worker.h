/*
 * worker.h - worker process types and what a worker is handed at start.
 *
 * A worker type is a small descriptor: its config name and a run function.
 * The supervisor forks one process per configured instance, gives it its
 * own libev loop, the config snapshot and the listening sockets of its
 * bind_socket lines, and calls run(). run() returns the process exit code
 * once the worker has stopped (SIGTERM: stop accepting, finish what is in
 * flight, return 0).
 */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct config_worker;
struct ev_loop;
struct scan_engine;

struct worker_ctx {
	struct ev_loop *loop;
	struct config *cfg;               /* one reference held for the process */
	const struct config_worker *wcfg; /* borrowed from cfg */
	const struct scan_engine *engine; /* rules, built by the supervisor */
	const int *fds;                   /* listening sockets of this worker */
	size_t n_fds;
	unsigned index;                   /* 0 .. count-1 among its siblings */
};

struct worker_type {
	const char *name;
	int (*run)(struct worker_ctx *ctx);
	bool needs_sockets;
};

/* NULL for an unknown type name. */
const struct worker_type *worker_type_find(const char *name);

/*
 * Installs SIGTERM/SIGINT (graceful stop: `stop` is called once), SIGHUP
 * (ignored: reloads are the supervisor's) and SIGUSR1 (log reopen) on the
 * worker's loop. `stop` must eventually make the loop return.
 */
void worker_install_signals(struct worker_ctx *ctx,
    void (*stop)(struct worker_ctx *ctx, void *ud), void *ud);

/*
 * Watchdog around synchronous CPU work (a scan): if it is still running
 * `seconds` later (a Lua rule stuck in a loop that no time budget check
 * can reach), the process logs and exits, and the supervisor starts a
 * fresh worker. Disarm when the work is done.
 */
void worker_watchdog_arm(double seconds);
void worker_watchdog_disarm(void);

/* Seconds a stopping worker may spend finishing in-flight requests. */
#define WORKER_STOP_GRACE 10.0

int worker_normal_run(struct worker_ctx *ctx);
int worker_controller_run(struct worker_ctx *ctx);
int worker_proxy_run(struct worker_ctx *ctx);
/* smtp, submission and smtps: one server, the role from the type name */
int worker_smtp_run(struct worker_ctx *ctx);
int worker_qmgr_run(struct worker_ctx *ctx);
int worker_pop3_run(struct worker_ctx *ctx); /* pop3 and pop3s */
int worker_imap_run(struct worker_ctx *ctx); /* imap and imaps */

#endif
