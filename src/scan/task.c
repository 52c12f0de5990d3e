/*
 * task.c - the scan task: parse, run the checks, settle score and action.
 *
 * Stages run in order: parse, pre-filters (GTUBE), filters (header, MIME,
 * URL/HTML checks), then actions. A pre-result stops the filters unless the
 * client asked for pass_all, as in Rspamd. All memory is in the task pool,
 * capped so one hostile message cannot exhaust the worker.
 */
#include "scan/task.h"
#include "config/config.h"
#include "core/pool.h"
#include "core/str.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* Room for the parsed form of a message of the configured maximum size. */
#define TASK_POOL_FACTOR 8
#define TASK_POOL_MIN ((size_t)64 * 1024 * 1024)

static double
wall_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct scan_task *
scan_task_new(const struct scan_engine *engine, const char *data, size_t len)
{
	struct config *cfg = scan_engine_config(engine);
	size_t cap = cfg->max_message > SIZE_MAX / TASK_POOL_FACTOR ?
	    SIZE_MAX : cfg->max_message * TASK_POOL_FACTOR;
	struct pool *pool = pool_new(MAX(cap, TASK_POOL_MIN));
	/* The first allocation of a fresh pool is far below any cap. */
	struct scan_task *task = pool_alloc(pool, sizeof(*task));
	static unsigned counter;

	task->pool = pool;
	task->engine = engine;
	task->cfg = config_ref(cfg);
	task->data = data;
	task->len = len;
	task->action = "no action";
	task->start_real = wall_now();
	task->deadline = task->start_real + (cfg->task_timeout > 0 ? cfg->task_timeout : 8.0);
	counter++;
	snprintf(task->id, sizeof(task->id), "%06x",
	    ((counter * 2654435761u) ^ ((unsigned)getpid() << 12)) & 0xffffffu);
	return task;
}

void
scan_task_free(struct scan_task **taskp)
{
	struct scan_task *task = *taskp;
	struct pool *pool;

	if (task == NULL)
		return;
	*taskp = NULL;
	config_unref(&task->cfg);
	pool = task->pool;
	pool_free(&pool);
}

const struct scan_symbol *
scan_task_find_symbol(const struct scan_task *task, const char *name)
{
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

void
scan_symbol_add_option(struct scan_task *task, struct scan_symbol *sym,
    const char *option)
{
	const char **opts;
	char *copy;

	for (size_t i = 0; i < sym->n_options; i++) {
		if (strcmp(sym->options[i], option) == 0)
			return;
	}
	/* Rspamd caps options per symbol too; a hostile message may have many. */
	if (sym->n_options >= 64)
		return;
	copy = pool_strdup(task->pool, option);
	opts = pool_calloc(task->pool, sym->n_options + 1, sizeof(*opts));
	if (copy == NULL || opts == NULL)
		return;
	if (sym->n_options != 0)
		memcpy(opts, sym->options, sym->n_options * sizeof(*opts));
	opts[sym->n_options++] = copy;
	sym->options = opts;
}

struct scan_symbol *
scan_task_insert(struct scan_task *task, const char *name, double factor,
    const char *option)
{
	struct scan_symbol *sym = (struct scan_symbol *)scan_task_find_symbol(task, name);
	const struct symbol_info *si = scan_engine_symbol(task->engine, name);
	double weight = si != NULL ? si->weight : 0.0;
	double score = (si != NULL && (si->flags & SYMBOL_FLAG_IGNORE)) ? 0.0 : weight * factor;

	if (sym == NULL) {
		sym = pool_alloc(task->pool, sizeof(*sym));
		if (sym == NULL)
			return NULL;
		sym->name = pool_strdup(task->pool, name);
		if (sym->name == NULL)
			return NULL;
		sym->weight = weight;
		sym->score = score;
		sym->description = si != NULL ? si->description : NULL;
		if (task->symbols_tail != NULL)
			task->symbols_tail->next = sym;
		else
			task->symbols = sym;
		task->symbols_tail = sym;
		task->n_symbols++;
	} else if (si != NULL && (si->flags & SYMBOL_FLAG_MULTI)) {
		sym->score += score;
	} else if (fabs(score) > fabs(sym->score) &&
		   !(si != NULL && (si->flags & SYMBOL_FLAG_ONE_SHOT))) {
		/* Inserted again: the larger contribution stands (Rspamd). */
		sym->score = score;
	}
	if (option != NULL)
		scan_symbol_add_option(task, sym, option);
	return sym;
}

void
scan_task_remove_symbol(struct scan_task *task, const char *name, bool keep_score)
{
	struct scan_symbol *s, *prev = NULL;

	for (s = task->symbols; s != NULL; prev = s, s = s->next) {
		if (strcmp(s->name, name) != 0)
			continue;
		if (keep_score) {
			/* The score stays in the total under a hidden entry. */
			task->removed_score += s->score;
		}
		if (prev != NULL)
			prev->next = s->next;
		else
			task->symbols = s->next;
		if (task->symbols_tail == s)
			task->symbols_tail = prev;
		task->n_symbols--;
		return;
	}
}

bool
scan_task_out_of_time(const struct scan_task *task)
{
	return wall_now() > task->deadline;
}

void
scan_task_set_pre_result(struct scan_task *task, const char *action,
    const char *message, const char *module)
{
	/* The first pre-result stands, as with Rspamd's priorities. */
	if (task->pre_action != NULL)
		return;
	task->pre_action = action;
	task->pre_message = message;
	task->pre_module = module;
}

void
scan_task_add_header(struct scan_task *task, const char *name, const char *value,
    int order)
{
	struct scan_header *n = pool_calloc(task->pool, task->n_add_headers + 1, sizeof(*n));
	char *nm = pool_strdup(task->pool, name), *v = pool_strdup(task->pool, value);

	/* at the pool cap the header is dropped, like a symbol option */
	if (n == NULL || nm == NULL || v == NULL)
		return;
	if (task->n_add_headers > 0)
		memcpy(n, task->add_headers, task->n_add_headers * sizeof(*n));
	n[task->n_add_headers].name = nm;
	n[task->n_add_headers].value = v;
	n[task->n_add_headers].order = order;
	task->add_headers = n;
	task->n_add_headers++;
}

/* Sum of scores, each group's positive total capped at its max_score. */
static double
total_score(const struct scan_task *task)
{
	const struct scan_engine *eng = task->engine;
	double score = task->removed_score;
	double *group_sum = NULL;

	if (eng->n_groups != 0)
		group_sum = pool_calloc(task->pool, eng->n_groups, sizeof(*group_sum));
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next) {
		const struct symbol_info *si = scan_engine_symbol(eng, s->name);
		const struct engine_group *g = si != NULL && si->group != NULL ?
		    engine_group_find(eng, si->group) : NULL;

		if (g != NULL && g->max_score > 0 && s->score > 0 && group_sum != NULL) {
			double *sum = &group_sum[g - eng->groups];
			double room = g->max_score - *sum;

			if (room <= 0)
				continue;
			score += MIN(s->score, room);
			*sum += MIN(s->score, room);
			continue;
		}
		score += s->score;
	}
	return score;
}

static void
settle_action(struct scan_task *task)
{
	const struct config_actions *a = &task->cfg->actions;

	task->score = total_score(task);
	task->action = task->pre_action != NULL ? task->pre_action :
	    actions_for_score(a, task->score);
	if (strcmp(task->action, "rewrite subject") == 0 && a->subject != NULL) {
		const char *old = task->msg != NULL && task->msg->subject != NULL ?
		    task->msg->subject : "";
		const char *pct = strstr(a->subject, "%s");

		task->subject = pct == NULL ? a->subject :
		    pool_printf(task->pool, "%.*s%s%s", (int)(pct - a->subject),
			a->subject, old, pct + 2);
	}
}

void
scan_task_parse(struct scan_task *task)
{
	struct mime_limits limits;

	if (task->msg != NULL || task->len == 0 || task->env.raw)
		return;
	mime_limits_default(&limits);
	task->msg = mime_parse(task->pool, task->data, task->len, &limits, &task->parse_error);
	if (task->msg == NULL)
		log_warn("task", task->id, "message not parsed: %s",
		    task->parse_error != NULL ? task->parse_error : "unknown error");
}

void
scan_task_finished(struct scan_task *task)
{
	settle_action(task);
	task->time_real = wall_now() - task->start_real;
	task->finished = true;
	if (task->done_cb != NULL)
		task->done_cb(task, task->done_ud);
}

void
scan_task_process_async(struct scan_task *task, struct ev_loop *loop,
    void (*done)(struct scan_task *task, void *ud), void *ud)
{
	task->loop = loop;
	task->done_cb = done;
	task->done_ud = ud;
	if (task->env.skip) {
		task->skipped = true;
		scan_task_finished(task);
		return;
	}
	scan_task_parse(task);
	scan_engine_start(task->engine, task);
}

void
scan_task_process(struct scan_task *task)
{
	scan_task_process_async(task, NULL, NULL, NULL);
}

void
scan_task_log(const struct scan_task *task)
{
	char syms[2048];
	size_t off = 0;

	if (task->env.no_log)
		return;
	syms[0] = '\0';
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next) {
		int n = snprintf(syms + off, sizeof(syms) - off, "%s%s(%.2f)",
		    off ? "," : "", s->name, s->score);

		if (n < 0 || (size_t)n >= sizeof(syms) - off)
			break;
		off += (size_t)n;
	}
	log_info("task", task->env.log_tag != NULL ? task->env.log_tag : task->id,
	    "id: <%s>, qid: <%s>, ip: %s, from: <%s>, (default: %s (%s): [%.2f/%.2f] [%s]), "
	    "len: %zu, time: %.3fms",
	    task->msg != NULL && task->msg->message_id != NULL ? task->msg->message_id : "undef",
	    task->env.queue_id != NULL ? task->env.queue_id : "undef",
	    task->env.ip != NULL ? task->env.ip : "undef",
	    task->env.from != NULL ? task->env.from : "undef",
	    action_is_spam(task->action) ? "T" : "F", task->action, task->score,
	    actions_required_score(&task->cfg->actions), syms, task->len,
	    task->time_real * 1000.0);
}
