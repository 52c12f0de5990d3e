/*
 * supervisor.c - the main process.
 *
 * It reads the config (done by the caller), binds every listening socket,
 * forks the configured workers and then only waits for signals, which it
 * keeps blocked and takes synchronously with sigtimedwait(): no handler
 * runs at an arbitrary point, so the bookkeeping below needs no
 * async-signal care.
 *
 *  SIGCHLD  reap; a worker of the current generation that died is
 *           restarted, after a delay that grows while it keeps crashing
 *           quickly (a worker that cannot start must not fork-bomb).
 *  SIGHUP   load the config again; on error keep running the old one. On
 *           success bind what is new (sockets whose bind_socket did not
 *           change are kept open, so no connection is refused during a
 *           reload), start a new generation of workers, ask the old one to
 *           stop gracefully, and close sockets nothing uses any more.
 *  SIGTERM  ask every worker to stop, wait for them (bounded), exit.
 *  SIGUSR1  reopen log files, here and in workers.
 */
#include "worker/supervisor.h"
#include "config/config.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "event/listen.h"
#include "log/log.h"
#include "scan/engine.h"
#include "worker/privdrop.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTART_DELAY_MIN 1.0
#define RESTART_DELAY_MAX 30.0
#define CRASH_WINDOW 10.0   /* a worker dying sooner than this after start crashed "quickly" */
#define STOP_TIMEOUT (WORKER_STOP_GRACE + 5.0)

struct listener {
	char *key;    /* canonical spec, see listen_spec_key() */
	int *fds;
	size_t n_fds;
	bool used;    /* by the current config */
	const char *used_by; /* worker type of the current config using it */
};

struct child {
	pid_t pid;                /* 0 while waiting to be restarted */
	unsigned generation;
	char *type;
	unsigned index;
	double started;
	double restart_at;        /* when pid == 0 */
	double delay;             /* current restart backoff */
	struct child *next;
};

struct supervisor {
	struct config *cfg;
	struct scan_engine *engine;
	const char *conf_path;
	const char *state_dir;
	struct listener *listeners;
	size_t n_listeners;
	struct child *children;
	unsigned generation;
	bool stopping;
	double stop_deadline;
	sigset_t sigset;
	/* the run user of the current generation's workers */
	struct privdrop privdrop;
};

/* The main process, as the workers it forks see their parent. */
static pid_t supervisor_pid;

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct listener *
listener_find(struct supervisor *sv, const char *key)
{
	for (size_t i = 0; i < sv->n_listeners; i++) {
		if (strcmp(sv->listeners[i].key, key) == 0)
			return &sv->listeners[i];
	}
	return NULL;
}

/* Bind every socket `cfg` needs that is not open yet; mark all it uses. */
static int
listeners_prepare(struct supervisor *sv, const struct config *cfg, char **error_r)
{
	for (size_t i = 0; i < sv->n_listeners; i++) {
		sv->listeners[i].used = false;
		sv->listeners[i].used_by = NULL;
	}
	for (size_t w = 0; w < cfg->n_workers; w++) {
		const struct config_worker *wc = &cfg->workers[w];

		if (!wc->enabled)
			continue;
		for (size_t b = 0; b < wc->n_bind; b++) {
			char *key = listen_spec_key(wc->bind[b], error_r);
			struct listener *l;

			if (key == NULL)
				return -1;
			l = listener_find(sv, key);
			if (l == NULL) {
				int *fds;
				size_t n;

				if (listen_parse_and_bind(wc->bind[b], &fds, &n, error_r) < 0) {
					free(key);
					return -1;
				}
				sv->listeners = xrealloc(sv->listeners,
				    (sv->n_listeners + 1) * sizeof(*sv->listeners));
				l = &sv->listeners[sv->n_listeners++];
				l->key = key;
				l->fds = fds;
				l->n_fds = n;
				l->used_by = NULL;
				log_info("main", NULL, "listening on %s for worker %s",
				    wc->bind[b], wc->type);
			} else {
				free(key);
			}
			/* Two kinds of worker on one socket would answer each
			 * other's clients in the wrong protocol. */
			if (l->used_by != NULL && strcmp(l->used_by, wc->type) != 0) {
				*error_r = xasprintf("bind_socket %s is used by workers %s and %s",
				    wc->bind[b], l->used_by, wc->type);
				return -1;
			}
			l->used = true;
			l->used_by = wc->type;
		}
	}
	return 0;
}

static void
listeners_close_unused(struct supervisor *sv)
{
	size_t j = 0;

	for (size_t i = 0; i < sv->n_listeners; i++) {
		struct listener *l = &sv->listeners[i];

		if (l->used) {
			sv->listeners[j++] = *l;
			continue;
		}
		log_info("main", NULL, "closing listener %s", l->key);
		for (size_t k = 0; k < l->n_fds; k++)
			close(l->fds[k]);
		free(l->fds);
		free(l->key);
	}
	sv->n_listeners = j;
}

/* The fds of one worker's bind lines, gathered into a heap array. */
static int *
worker_fds(struct supervisor *sv, const struct config_worker *wc, size_t *n_r)
{
	int *fds = NULL;
	size_t n = 0, cap = 0;

	for (size_t b = 0; b < wc->n_bind; b++) {
		char *err = NULL;
		char *key = listen_spec_key(wc->bind[b], &err);
		struct listener *l = key != NULL ? listener_find(sv, key) : NULL;

		free(err);
		free(key);
		if (l == NULL)
			continue;
		for (size_t k = 0; k < l->n_fds; k++) {
			fds = xgrow(fds, &cap, n + 1, sizeof(*fds));
			fds[n++] = l->fds[k];
		}
	}
	*n_r = n;
	return fds;
}

NORETURN static void
child_main(struct supervisor *sv, const struct config_worker *wc, unsigned index)
{
	const struct worker_type *wt = worker_type_find(wc->type);
	struct worker_ctx ctx;
	sigset_t none;
	size_t n_fds;
	int *fds = worker_fds(sv, wc, &n_fds);
	char *err = NULL;
	int rc;

	/* Sockets of other workers are not this process's business. */
	for (size_t i = 0; i < sv->n_listeners; i++) {
		for (size_t k = 0; k < sv->listeners[i].n_fds; k++) {
			bool mine = false;

			for (size_t m = 0; m < n_fds; m++)
				mine |= fds[m] == sv->listeners[i].fds[k];
			if (!mine)
				close(sv->listeners[i].fds[k]);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* A worker outliving a killed main process would keep the listening
	 * sockets and the spool busy: the restarted daemon could not bind and
	 * two queue managers would share one spool. Asked before the signal
	 * mask opens; the getppid() check closes the race with a parent that
	 * died before prctl(). */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor_pid)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_set_process(wc->type);
	/* Before the loop exists and before any client byte is read. */
	if (privdrop_apply(&sv->privdrop, &err) < 0) {
		log_error("main", NULL, "worker %s: %s", wc->type, err);
		_exit(1);
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	ctx.cfg = sv->cfg;
	ctx.engine = sv->engine;
	ctx.wcfg = wc;
	ctx.fds = fds;
	ctx.n_fds = n_fds;
	ctx.index = index;
	if (ctx.loop == NULL) {
		log_error("main", NULL, "cannot create event loop");
		_exit(1);
	}
	rc = wt->run(&ctx);
	ev_loop_destroy(ctx.loop);
	free(fds);
	/* _exit: atexit handlers and stdio buffers belong to the parent. */
	_exit(rc);
}

static void
child_spawn(struct supervisor *sv, struct child *c)
{
	const struct config_worker *wc = config_find_worker(sv->cfg, c->type);
	pid_t pid;

	if (wc == NULL) {
		c->pid = 0;
		c->restart_at = 0;
		return;
	}
	supervisor_pid = getpid();
	pid = fork();
	if (pid < 0) {
		log_error("main", NULL, "fork for worker %s failed: %s", c->type,
		    strerror(errno));
		c->pid = 0;
		c->restart_at = now_mono() + c->delay;
		return;
	}
	if (pid == 0)
		child_main(sv, wc, c->index);
	c->pid = pid;
	c->started = now_mono();
	log_info("main", NULL, "started worker %s #%u, pid %d", c->type, c->index, (int)pid);
}

/*
 * Picks the run user for `cfg` and hands it the state dir; a failure keeps
 * the previous choice (-1 with *error_r).
 */
static int
privdrop_setup(struct supervisor *sv, const struct config *cfg, char **error_r)
{
	struct privdrop pd;

	if (privdrop_plan(cfg, &pd, error_r) < 0 ||
	    privdrop_prepare_state(&pd, cfg->state_dir, error_r) < 0)
		return -1;
	if (pd.active)
		log_info("main", NULL, "workers run as %s (uid %u, gid %u)", pd.name,
		    (unsigned)pd.uid, (unsigned)pd.gid);
	sv->privdrop = pd;
	return 0;
}

static void
spawn_generation(struct supervisor *sv)
{
	sv->generation++;
	for (size_t w = 0; w < sv->cfg->n_workers; w++) {
		const struct config_worker *wc = &sv->cfg->workers[w];

		if (!wc->enabled)
			continue;
		if (worker_type_find(wc->type) == NULL) {
			log_warn("main", NULL, "worker type %s is not available, skipped", wc->type);
			continue;
		}
		for (unsigned i = 0; i < wc->count; i++) {
			struct child *c = xcalloc(1, sizeof(*c));

			c->generation = sv->generation;
			c->type = xstrdup(wc->type);
			c->index = i;
			c->delay = RESTART_DELAY_MIN;
			c->next = sv->children;
			sv->children = c;
			child_spawn(sv, c);
		}
	}
}

static void
signal_generation(struct supervisor *sv, unsigned below_generation, int sig)
{
	for (struct child *c = sv->children; c != NULL; c = c->next) {
		if (c->pid > 0 && c->generation < below_generation)
			kill(c->pid, sig);
	}
}

static void
child_forget(struct supervisor *sv, struct child *dead)
{
	struct child **pp;

	for (pp = &sv->children; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == dead) {
			*pp = dead->next;
			free(dead->type);
			free(dead);
			return;
		}
	}
}

static void
child_exited(struct supervisor *sv, struct child *c, int status)
{
	double lived = now_mono() - c->started;
	bool crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);

	if (sv->stopping || c->generation != sv->generation) {
		log_info("main", NULL, "worker %s pid %d stopped", c->type, (int)c->pid);
		child_forget(sv, c);
		return;
	}
	if (WIFSIGNALED(status))
		log_error("main", NULL, "worker %s pid %d died on signal %d; restarting",
		    c->type, (int)c->pid, WTERMSIG(status));
	else
		log_error("main", NULL, "worker %s pid %d exited with status %d; restarting",
		    c->type, (int)c->pid, WEXITSTATUS(status));
	if (crashed && lived < CRASH_WINDOW)
		c->delay = MIN(c->delay * 2, RESTART_DELAY_MAX);
	else
		c->delay = RESTART_DELAY_MIN;
	c->pid = 0;
	c->restart_at = now_mono() + (lived < CRASH_WINDOW ? c->delay : 0);
}

static void
reap(struct supervisor *sv)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct child *c = sv->children; c != NULL; c = c->next) {
			if (c->pid == pid) {
				child_exited(sv, c, status);
				break;
			}
		}
	}
}

static void
restart_due(struct supervisor *sv)
{
	double now = now_mono();

	for (struct child *c = sv->children; c != NULL; c = c->next) {
		if (c->pid == 0 && c->restart_at <= now && !sv->stopping)
			child_spawn(sv, c);
	}
}

static void
reload(struct supervisor *sv)
{
	struct config *ncfg = NULL;
	struct scan_engine *nengine;
	char *err = NULL;

	log_notice("main", NULL, "SIGHUP: reloading %s", sv->conf_path);
	if (config_load(sv->conf_path, sv->state_dir, &ncfg, &err) < 0) {
		log_error("main", NULL, "reload failed, keeping the running config: %s", err);
		free(err);
		return;
	}
	nengine = scan_engine_new(ncfg, &err);
	if (nengine == NULL) {
		log_error("main", NULL, "reload failed, keeping the running config: %s", err);
		free(err);
		config_unref(&ncfg);
		return;
	}
	if (listeners_prepare(sv, ncfg, &err) < 0) {
		log_error("main", NULL, "reload failed, keeping the running config: %s", err);
		free(err);
		scan_engine_free(&nengine);
		config_unref(&ncfg);
		/* Restore the marks of the running config. */
		if (listeners_prepare(sv, sv->cfg, &err) < 0)
			free(err);
		return;
	}
	if (log_configure(&ncfg->logging, &err) < 0) {
		log_warn("main", NULL, "logging settings not applied: %s", err);
		free(err);
	}
	if (privdrop_setup(sv, ncfg, &err) < 0) {
		log_error("main", NULL, "reload: %s; workers keep the previous user", err);
		free(err);
		err = NULL;
	}
	/* Forked workers have their own copies: the old engine can go now. */
	scan_engine_free(&sv->engine);
	config_unref(&sv->cfg);
	sv->cfg = ncfg;
	sv->engine = nengine;
	spawn_generation(sv);
	signal_generation(sv, sv->generation, SIGTERM);
	listeners_close_unused(sv);
	/* Old children waiting for a restart just go away. */
	for (struct child *c = sv->children, *cn; c != NULL; c = cn) {
		cn = c->next;
		if (c->pid == 0 && c->generation != sv->generation)
			child_forget(sv, c);
	}
}

static bool
children_alive(const struct supervisor *sv)
{
	for (const struct child *c = sv->children; c != NULL; c = c->next) {
		if (c->pid > 0)
			return true;
	}
	return false;
}

static void
begin_stop(struct supervisor *sv, int sig)
{
	if (sv->stopping)
		return;
	log_notice("main", NULL, "signal %d: stopping workers", sig);
	sv->stopping = true;
	sv->stop_deadline = now_mono() + STOP_TIMEOUT;
	signal_generation(sv, UINT32_MAX, SIGTERM);
}

static void
handle_signal(struct supervisor *sv, int sig)
{
	char *err = NULL;

	switch (sig) {
	case SIGCHLD:
		reap(sv);
		break;
	case SIGHUP:
		if (!sv->stopping)
			reload(sv);
		break;
	case SIGTERM:
	case SIGINT:
		begin_stop(sv, sig);
		break;
	case SIGUSR1:
		log_reopen();
		/* The new file is root's: workers reopen it as the run user. */
		if (privdrop_prepare_state(&sv->privdrop, sv->cfg->logdir, &err) < 0) {
			log_warn("main", NULL, "log reopen: %s", err);
			free(err);
		}
		signal_generation(sv, UINT32_MAX, SIGUSR1);
		break;
	default:
		break;
	}
}

static void
supervisor_free(struct supervisor *sv)
{
	while (sv->children != NULL)
		child_forget(sv, sv->children);
	for (size_t i = 0; i < sv->n_listeners; i++)
		sv->listeners[i].used = false;
	listeners_close_unused(sv);
	free(sv->listeners);
	scan_engine_free(&sv->engine);
	config_unref(&sv->cfg);
}

int
supervisor_run(struct config *cfg, struct scan_engine *engine, const char *conf_path,
    const char *state_dir)
{
	struct supervisor sv;
	char *err = NULL;

	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.engine = engine;
	sv.conf_path = conf_path;
	sv.state_dir = state_dir;
	sigemptyset(&sv.sigset);
	sigaddset(&sv.sigset, SIGCHLD);
	sigaddset(&sv.sigset, SIGHUP);
	sigaddset(&sv.sigset, SIGTERM);
	sigaddset(&sv.sigset, SIGINT);
	sigaddset(&sv.sigset, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sv.sigset, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (listeners_prepare(&sv, cfg, &err) < 0) {
		log_error("main", NULL, "cannot listen: %s", err);
		fprintf(stderr, "rspamd: cannot listen: %s\n", err);
		free(err);
		supervisor_free(&sv);
		return 1;
	}
	if (privdrop_setup(&sv, cfg, &err) < 0) {
		log_error("main", NULL, "%s", err);
		fprintf(stderr, "rspamd: %s\n", err);
		free(err);
		supervisor_free(&sv);
		return 1;
	}
	/* Before the first fork, so every worker of every generation shares it. */
	shared_stats_create();
	spawn_generation(&sv);
	log_notice("main", NULL, "supervisor running, pid %d", (int)getpid());

	while (!sv.stopping || children_alive(&sv)) {
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		int sig = sigtimedwait(&sv.sigset, NULL, &ts);

		if (sig > 0)
			handle_signal(&sv, sig);
		reap(&sv);
		restart_due(&sv);
		if (sv.stopping && now_mono() > sv.stop_deadline) {
			log_warn("main", NULL, "workers did not stop in time, killing them");
			signal_generation(&sv, UINT32_MAX, SIGKILL);
			sv.stop_deadline = now_mono() + 5.0;
		}
	}
	log_notice("main", NULL, "stopped");
	supervisor_free(&sv);
	return 0;
}
