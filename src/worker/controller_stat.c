/*
 * controller_stat.c - /stat, /statreset and /auth (spec/controller.md
 * section 3): the shared scan counters of every worker plus, for /stat,
 * the Bayes class totals from the statistics backend.
 *
 * The backend query may be asynchronous (Redis), so the counters are
 * copied first and the reply is built when the totals arrive; /statreset
 * zeroes the counters at that first moment, so scans finishing while the
 * backend answers are counted after the reset rather than lost.
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "crypto/base32.h"
#include "http/http_server.h"
#include "log/log.h"
#include "scan/bayes/bayes.h"
#include "scan/engine.h"
#include "worker/controller_internal.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#define CTRL_VERSION "3.4"

void
controller_config_id(struct controller *c)
{
	uint8_t d[32];
	unsigned int n = sizeof(d);
	struct buf b;

	buf_init(&b, 0);
	obj_emit_json(c->ctx->cfg->root, &b, false);
	if (EVP_Digest(b.data, b.len, d, &n, EVP_sha256(), NULL) != 1 ||
	    base32_encode(d, sizeof(d), c->config_id, sizeof(c->config_id)) < 0)
		str_lcpy(c->config_id, "unknown", sizeof(c->config_id));
	buf_deinit(&b);
}

static int64_t
uptime(const struct stats_snapshot *s)
{
	int64_t up = (int64_t)time(NULL) - s->start_time;

	return up > 0 ? up : 0;
}

static void
put_int(struct obj *o, const char *key, uint64_t v)
{
	obj_object_set(o, key, obj_new_int((int64_t)v));
}

static struct obj *
scan_times(const struct stats_snapshot *s)
{
	struct obj *a = obj_new_array();

	for (unsigned i = 0; i < STATS_SCAN_TIMES; i++) {
		uint64_t v = s->scan_times[i];

		obj_array_append(a, v == 0 ? obj_new_null() : obj_new_float((double)(v - 1) / 1e6));
	}
	return a;
}

/* Memory counters rspamc prints; we have no global pool registry. */
static void
put_memory(struct obj *o)
{
	static const char *const keys[] = {
		"pools_allocated", "pools_freed", "bytes_allocated", "chunks_allocated",
		"shared_chunks_allocated", "chunks_freed", "chunks_oversized", "fragmented",
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		put_int(o, keys[i], 0);
}

static struct obj *
statfiles(const struct bayes_stat *st, uint64_t *total_r)
{
	struct obj *a = obj_new_array();

	*total_r = 0;
	for (size_t i = 0; st != NULL && i < st->n_files; i++) {
		struct obj *f = obj_new_object();

		put_int(f, "revision", st->files[i].learned);
		put_int(f, "used", st->files[i].tokens);
		put_int(f, "total", st->files[i].tokens);
		put_int(f, "size", 0);
		obj_object_set(f, "symbol", obj_new_string(st->files[i].symbol));
		obj_object_set(f, "type", obj_new_string(st->files[i].type));
		put_int(f, "languages", 0);
		put_int(f, "users", st->files[i].users);
		obj_array_append(a, f);
	}
	if (st != NULL)
		*total_r = st->total_learns;
	return a;
}

static struct obj *
stat_object(const struct controller *c, const struct stats_snapshot *s, bool read_only,
    const struct bayes_stat *st)
{
	struct obj *o = obj_new_object(), *actions = obj_new_object();
	uint64_t total = 0;

	obj_object_set(o, "version", obj_new_string(CTRL_VERSION));
	obj_object_set(o, "config_id", obj_new_string(c->config_id));
	put_int(o, "uptime", (uint64_t)uptime(s));
	obj_object_set(o, "read_only", obj_new_bool(read_only));
	put_int(o, "scanned", s->scanned);
	put_int(o, "learned", s->learned);
	for (int i = 0; i < STATS_ACTION_COUNT; i++)
		put_int(actions, shared_stats_action_name((enum stats_action)i), s->actions[i]);
	obj_object_set(o, "actions", actions);
	obj_object_set(o, "scan_times", scan_times(s));
	put_int(o, "spam_count", s->spam_count);
	put_int(o, "ham_count", s->ham_count);
	put_int(o, "connections", s->connections);
	put_int(o, "control_connections", s->control_connections);
	put_memory(o);
	obj_object_set(o, "statfiles", statfiles(st, &total));
	put_int(o, "total_learns", total);
	return o;
}

struct stat_job {
	struct controller *c;
	struct http_request *req;
	bool read_only;
	struct stats_snapshot snap;
};

static void
stat_done(int rc, const struct bayes_stat *st, void *ud)
{
	struct stat_job *job = ud;
	struct obj *o;

	if (rc < 0)
		log_warn("controller", NULL, "/stat: statistics backend unavailable");
	o = stat_object(job->c, &job->snap, job->read_only, rc == 0 ? st : NULL);
	controller_reply_obj(job->req, &o);
}

void
controller_stat(struct controller *c, struct http_request *req, bool read_only, bool reset)
{
	struct stat_job *job = pool_alloc(req->pool, sizeof(*job));

	if (job == NULL) {
		controller_reply_error(req, 500, "Internal error");
		return;
	}
	job->c = c;
	job->req = req;
	job->read_only = read_only;
	shared_stats_snapshot(&job->snap);
	if (reset) {
		shared_stats_reset();
		log_info("controller", NULL, "statistics counters reset by %s", req->peer_text);
	}
	if (!bayes_enabled(c->ctx->engine)) {
		stat_done(0, NULL, job);
		return;
	}
	bayes_get_stat(c->ctx->engine, c->ctx->loop, stat_done, job);
}

void
controller_auth_reply(struct controller *c, struct http_request *req, bool read_only)
{
	struct stats_snapshot s;
	struct obj *o = obj_new_object();

	shared_stats_snapshot(&s);
	obj_object_set(o, "version", obj_new_string(CTRL_VERSION));
	obj_object_set(o, "auth", obj_new_string("ok"));
	put_int(o, "uptime", (uint64_t)uptime(&s));
	put_int(o, "clean", s.actions[STATS_ACTION_NO_ACTION]);
	put_int(o, "probable", s.actions[STATS_ACTION_ADD_HEADER] +
	    s.actions[STATS_ACTION_REWRITE_SUBJECT]);
	put_int(o, "greylist", s.actions[STATS_ACTION_GREYLIST]);
	put_int(o, "reject", s.actions[STATS_ACTION_REJECT]);
	put_int(o, "soft_reject", s.actions[STATS_ACTION_SOFT_REJECT]);
	put_int(o, "scanned", s.scanned);
	put_int(o, "learned", s.learned);
	obj_object_set(o, "read_only", obj_new_bool(read_only));
	obj_object_set(o, "config_id", obj_new_string(c->config_id));
	controller_reply_obj(req, &o);
}
