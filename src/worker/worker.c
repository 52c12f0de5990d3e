/*
 * worker.c - the table of worker types and the signal handling every
 * worker process shares.
 *
 * Runs in worker processes only. The supervisor blocks signals and waits
 * for them synchronously; a freshly forked worker unblocks them and takes
 * them through libev on its own loop.
 */
#include "worker/worker.h"
#include "core/common.h"
#include "log/log.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const struct worker_type worker_types[] = {
	{ "normal", worker_normal_run, true },
	{ "controller", worker_controller_run, true },
	{ "rspamd_proxy", worker_proxy_run, true },
	{ "smtp", worker_smtp_run, true },
	{ "submission", worker_smtp_run, true },
	{ "smtps", worker_smtp_run, true },
	{ "qmgr", worker_qmgr_run, false },
	{ "pop3", worker_pop3_run, true }, { "pop3s", worker_pop3_run, true },
	{ "imap", worker_imap_run, true }, { "imaps", worker_imap_run, true },
};

const struct worker_type *
worker_type_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(worker_types); i++) {
		if (strcmp(worker_types[i].name, name) == 0)
			return &worker_types[i];
	}
	return NULL;
}

struct worker_signals {
	ev_signal term, intr, hup, usr1;
	ev_timer grace;
	struct worker_ctx *ctx;
	void (*stop)(struct worker_ctx *ctx, void *ud);
	void *ud;
	bool stopping;
};

static struct worker_signals worker_signals;

static void
grace_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	UNUSED(w);
	UNUSED(revents);
	log_warn("worker", NULL, "in-flight work did not finish within %.0f s, exiting",
	    WORKER_STOP_GRACE);
	ev_break(loop, EVBREAK_ALL);
}

static void
on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct worker_signals *ws = w->data;

	UNUSED(revents);
	if (ws->stopping)
		return;
	ws->stopping = true;
	log_info("worker", NULL, "received signal %d, stopping gracefully", w->signum);
	ev_timer_init(&ws->grace, grace_expired, WORKER_STOP_GRACE, 0.);
	ev_timer_start(loop, &ws->grace);
	/* The grace timer must not keep an otherwise finished loop alive. */
	ev_unref(loop);
	ws->stop(ws->ctx, ws->ud);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	UNUSED(loop);
	UNUSED(w);
	UNUSED(revents);
}

static void
on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	UNUSED(loop);
	UNUSED(w);
	UNUSED(revents);
	log_reopen();
}

void
worker_install_signals(struct worker_ctx *ctx,
    void (*stop)(struct worker_ctx *ctx, void *ud), void *ud)
{
	struct worker_signals *ws = &worker_signals;

	memset(ws, 0, sizeof(*ws));
	ws->ctx = ctx;
	ws->stop = stop;
	ws->ud = ud;
	ev_signal_init(&ws->term, on_term, SIGTERM);
	ev_signal_init(&ws->intr, on_term, SIGINT);
	ev_signal_init(&ws->hup, on_hup, SIGHUP);
	ev_signal_init(&ws->usr1, on_usr1, SIGUSR1);
	ws->term.data = ws->intr.data = ws;
	ev_signal_start(ctx->loop, &ws->term);
	ev_signal_start(ctx->loop, &ws->intr);
	ev_signal_start(ctx->loop, &ws->hup);
	ev_signal_start(ctx->loop, &ws->usr1);
	/* Signal watchers alone must not keep the loop running. */
	ev_unref(ctx->loop);
	ev_unref(ctx->loop);
	ev_unref(ctx->loop);
	ev_unref(ctx->loop);
}

static void
watchdog_fired(int sig)
{
	static const char msg[] = "worker watchdog: a scan ran far past its time budget, "
	    "restarting this worker\n";

	(void)sig;
	/* Only async-signal-safe calls here: write(2) and _exit(2). */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing else to try */
	}
	_exit(3);
}

void
worker_watchdog_arm(double seconds)
{
	static bool installed;
	struct itimerval it;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = watchdog_fired;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		installed = true;
	}
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)seconds;
	it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
	setitimer(ITIMER_REAL, &it, NULL);
}

void
worker_watchdog_disarm(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}
