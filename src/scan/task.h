/*
 * task.h - one scan of one message: envelope in, symbols, score and action
 * out.
 *
 * The task owns a pool holding everything derived from the message; it
 * borrows the message bytes (which must outlive it) and holds a reference
 * to the config snapshot it started with, so a reload does not change the
 * rules under a running scan. The task does not know whether the message
 * came over HTTP, milter or SMTP.
 */
#ifndef SCAN_TASK_H
#define SCAN_TASK_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct ev_loop;
struct mime_message;
struct pool;
struct scan_engine;
struct scan_pending;

/* A request header as the client sent it (HTTP, milter macro, SMTP). */
struct scan_kv {
	const char *name;
	const char *value;
};

struct scan_envelope {
	const char *ip;          /* client IP text, validated, or NULL */
	const char *helo;
	const char *hostname;    /* validated rDNS name, NULL if unknown */
	const char *from;        /* MAIL FROM without <>; "" for the null sender */
	const char **rcpts;
	size_t n_rcpts;
	const char *user;        /* authenticated user */
	const char *queue_id;
	const char *deliver_to;
	const char *log_tag;
	const char *settings_id;
	bool pass_all;           /* run every rule even after a pre-result */
	bool no_log;
	bool skip;               /* do not process, reply "skipped" */
	bool milter;
	bool raw;                /* do not MIME-parse */
	const struct scan_kv *req_headers; /* for task:get_request_header() */
	size_t n_req_headers;
};

/* A header the MTA should add (reply milter block add_headers). */
struct scan_header {
	const char *name;
	const char *value;       /* unfolded or folded with "\n\t" */
	int order;               /* Rspamd's milter order: 0 prepends */
};

struct scan_symbol {
	const char *name;
	double score;            /* contributed: weight * dynamic factor */
	double weight;           /* configured weight (metric_score) */
	const char *description; /* or NULL */
	const char **options;
	size_t n_options;
	struct scan_symbol *next;
};

struct scan_task {
	struct pool *pool;
	const struct scan_engine *engine; /* rules; outlives the task */
	struct config *cfg;      /* one reference */
	const char *data;        /* borrowed message bytes */
	size_t len;
	struct scan_envelope env;
	struct mime_message *msg; /* NULL when raw, empty or unparsable */
	const char *parse_error;
	struct scan_symbol *symbols; /* in insertion order */
	struct scan_symbol *symbols_tail;
	size_t n_symbols;
	double score;
	double removed_score;    /* of symbols removed with their score kept */
	const char *action;      /* final action name, set by scan_task_process */
	const char *pre_action;  /* pre-result, if any */
	const char *pre_message;
	const char *pre_module;
	const char *subject;     /* rewritten subject for "rewrite subject" */
	const char **dkim_signatures; /* DKIM-Signature values made for this message */
	size_t n_dkim_signatures;
	struct scan_header *add_headers; /* scan_task_add_header(), in call order */
	size_t n_add_headers;
	bool skipped;
	double start_real;       /* wall clock seconds */
	double time_real;        /* seconds spent in scan_task_process */
	double deadline;         /* wall clock; rules after it are skipped */
	unsigned rules_skipped;  /* by the time budget */
	struct ev_loop *loop;    /* NULL: synchronous, rules must not start I/O */
	/* asynchronous progress (engine.c) */
	struct scan_pending *pending;
	unsigned n_pending;
	int next_stage;
	bool waiting;
	bool finished;
	void *timer;             /* ev_timer for the time budget while waiting */
	void (*done_cb)(struct scan_task *task, void *ud);
	void *done_ud;
	void *bayes_task;        /* statistics module's per-task state, or NULL */
	void *lua_task;          /* Lua module's per-task state, or NULL */
	void *re_task;           /* regexp module's per-task match cache, or NULL */
	void *auth_task;         /* auth modules' context (auth/auth_task.h), or NULL */
	char id[8];              /* short hex id for logs */
};

/*
 * `data` is borrowed; `engine` must outlive the task. Takes a reference to
 * the engine's config.
 */
struct scan_task *scan_task_new(const struct scan_engine *engine, const char *data,
    size_t len);
void scan_task_free(struct scan_task **task);

/* Parse and run every check, then settle score and action (no event loop:
 * rules that need network I/O do not run). */
void scan_task_process(struct scan_task *task);

/*
 * The same on `loop`: rules may start asynchronous work (Redis, DNS).
 * `done` is called once when the result is settled, possibly before this
 * returns. The task must not be freed before that.
 */
void scan_task_process_async(struct scan_task *task, struct ev_loop *loop,
    void (*done)(struct scan_task *task, void *ud), void *ud);

/* MIME-parse the message only (learning needs the tokens, not the rules). */
void scan_task_parse(struct scan_task *task);

/*
 * Asynchronous work of a rule: register it before starting it and call
 * scan_task_pending_done() when its answer arrived or it failed. If the
 * task stops waiting first (time budget), `cancel(ud)` is called instead;
 * from then on the operation must never touch the task again.
 * `subsystem` ("redis", "dns") names it in logs. Needs task->loop.
 */
struct scan_pending *scan_task_pending_add(struct scan_task *task, const char *subsystem,
    void (*cancel)(void *ud), void *ud);
void scan_task_pending_done(struct scan_task *task, struct scan_pending *p);

/* Called by the engine when the last stage is over. */
void scan_task_finished(struct scan_task *task);

/*
 * Adds `name` with its weight from the engine (0 for an unknown name) times
 * `factor` (1.0 normally). Adding a symbol twice keeps one entry with the
 * larger contribution (or the sum for SYMBOL_FLAG_MULTI) and appends
 * options. `option` may be NULL. `name` is copied into the task pool.
 */
struct scan_symbol *scan_task_insert(struct scan_task *task, const char *name,
    double factor, const char *option);
void scan_symbol_add_option(struct scan_task *task, struct scan_symbol *sym,
    const char *option);
const struct scan_symbol *scan_task_find_symbol(const struct scan_task *task,
    const char *name);

/* A pre-result decides the action regardless of score (e.g. GTUBE). */
void scan_task_set_pre_result(struct scan_task *task, const char *action,
    const char *message, const char *module);

/*
 * Asks the MTA to add a header (ARC sets, ...); name and value are copied
 * into the task pool. A name added twice is emitted as an array.
 */
void scan_task_add_header(struct scan_task *task, const char *name, const char *value,
    int order);

/* Removes a symbol (composites consume their parts). */
void scan_task_remove_symbol(struct scan_task *task, const char *name, bool keep_score);
/* True once the task's time budget is spent. */
bool scan_task_out_of_time(const struct scan_task *task);

/* Writes the one-line result log (unless env.no_log). */
void scan_task_log(const struct scan_task *task);

#endif
