/*
 * scan_http.c - request headers to task envelope, task to reply.
 *
 * Header semantics are those of spec/scan-protocol.md section 3: names are
 * case-insensitive, query parameters count as headers, Rcpt repeats and may
 * hold comma-separated lists, a bad IP is logged and ignored rather than
 * failing the scan.
 */
#include "worker/scan_http.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/reply.h"
#include "scan/task.h"
#include "worker/history.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

enum scan_cmd
scan_cmd_parse(struct str path)
{
	static const struct {
		const char *name;
		enum scan_cmd cmd;
	} cmds[] = {
		{ "checkv2", SCAN_CMD_CHECKV2 }, { "check", SCAN_CMD_CHECKV1 },
		{ "symbols", SCAN_CMD_CHECKV1 }, { "scan", SCAN_CMD_CHECKV1 },
		{ "process", SCAN_CMD_CHECKV1 }, { "report", SCAN_CMD_CHECKV1 },
		{ "report_ifspam", SCAN_CMD_CHECKV1 }, { "skip", SCAN_CMD_SKIP },
		{ "ping", SCAN_CMD_PING },
	};
	ptrdiff_t slash;

	while (path.len > 0 && path.ptr[0] == '/') {
		path.ptr++;
		path.len--;
	}
	slash = str_find_chr(path, '/');
	if (slash >= 0)
		path.len = (size_t)slash;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (str_case_eq_cstr(path, cmds[i].name))
			return cmds[i].cmd;
	}
	return SCAN_CMD_UNKNOWN;
}

void
scan_http_ping(struct http_request *req)
{
	http_reply(req, 200, "OK", "text/plain", NULL, 0, "pong\r\n", 6);
}

static const char *
header_cstr(struct pool *pool, const struct http_message *m, const char *name)
{
	const struct http_header *h = http_message_header(m, name);

	return h != NULL ? str_dup_cstr(pool, h->value) : NULL;
}

/* "<a@b>" -> "a@b"; surrounding spaces dropped. */
static const char *
strip_angles(struct pool *pool, struct str v)
{
	v = str_trim(v);
	if (v.len >= 2 && v.ptr[0] == '<' && v.ptr[v.len - 1] == '>') {
		v.ptr++;
		v.len -= 2;
	}
	return str_dup_cstr(pool, str_trim(v));
}

/* Splits one Rcpt value on commas outside quotes. */
static void
add_rcpts(struct scan_task *task, struct str v, const char ***list, size_t *n, size_t *cap)
{
	size_t start = 0;
	bool quoted = false;

	for (size_t i = 0; i <= v.len; i++) {
		if (i < v.len && v.ptr[i] == '"')
			quoted = !quoted;
		if (i < v.len && (v.ptr[i] != ',' || quoted))
			continue;
		if (i > start && *n < 1024) {
			const char *r = strip_angles(task->pool, str_make(v.ptr + start, i - start));

			if (r != NULL && *r != '\0') {
				if (*n == *cap) {
					const char **nl = pool_calloc(task->pool, *cap * 2 + 4, sizeof(*nl));

					if (nl == NULL)
						return;
					if (*n)
						memcpy(nl, *list, *n * sizeof(*nl));
					*list = nl;
					*cap = *cap * 2 + 4;
				}
				(*list)[(*n)++] = r;
			}
		}
		start = i + 1;
	}
}

static void
parse_flags(struct scan_envelope *env, struct str v)
{
	while (v.len > 0) {
		ptrdiff_t comma = str_find_chr(v, ',');
		struct str f = str_trim(str_make(v.ptr, comma >= 0 ? (size_t)comma : v.len));

		if (str_case_eq_cstr(f, "pass_all"))
			env->pass_all = true;
		else if (str_case_eq_cstr(f, "no_log"))
			env->no_log = true;
		else if (str_case_eq_cstr(f, "skip") || str_case_eq_cstr(f, "skip_process"))
			env->skip = true;
		else if (str_case_eq_cstr(f, "milter"))
			env->milter = true;
		if (comma < 0)
			break;
		v = str_slice(v, (size_t)comma + 1, v.len);
	}
}

static const char *
valid_ip(struct scan_task *task, const char *ip)
{
	unsigned char addr[16];

	if (ip == NULL)
		return NULL;
	if (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1)
		return ip;
	log_info("task", task->id, "ignoring invalid IP header value");
	return NULL;
}

/* Every request header, for task:get_request_header() in Lua rules. */
static void
copy_request_headers(struct scan_task *task, const struct http_message *m)
{
	struct scan_kv *kv = pool_calloc(task->pool, m->n_headers + 1, sizeof(*kv));
	size_t n = 0;

	if (kv == NULL)
		return;
	for (unsigned i = 0; i < m->n_headers; i++) {
		kv[n].name = str_dup_cstr(task->pool, m->headers[i].name);
		kv[n].value = str_dup_cstr(task->pool, m->headers[i].value);
		if (kv[n].name != NULL && kv[n].value != NULL)
			n++;
	}
	task->env.req_headers = kv;
	task->env.n_req_headers = n;
}

static void
fill_envelope(struct scan_task *task, const struct http_message *m)
{
	struct scan_envelope *env = &task->env;
	const struct http_header *h;
	const char **rcpts = NULL;
	size_t n = 0, cap = 0;

	env->ip = valid_ip(task, header_cstr(task->pool, m, "IP"));
	env->helo = header_cstr(task->pool, m, "Helo");
	env->hostname = header_cstr(task->pool, m, "Hostname");
	if (env->hostname != NULL && (strcmp(env->hostname, "unknown") == 0 || *env->hostname == '\0'))
		env->hostname = NULL;
	h = http_message_header(m, "From");
	if (h != NULL)
		env->from = strip_angles(task->pool, h->value);
	for (h = http_message_header_next(m, NULL, "Rcpt"); h != NULL;
	     h = http_message_header_next(m, h, "Rcpt"))
		add_rcpts(task, h->value, &rcpts, &n, &cap);
	env->rcpts = rcpts;
	env->n_rcpts = n;
	env->user = header_cstr(task->pool, m, "User");
	env->queue_id = header_cstr(task->pool, m, "Queue-Id");
	h = http_message_header(m, "Deliver-To");
	if (h != NULL)
		env->deliver_to = strip_angles(task->pool, h->value);
	env->log_tag = header_cstr(task->pool, m, "Log-Tag");
	env->settings_id = header_cstr(task->pool, m, "Settings-ID");
	h = http_message_header(m, "Pass");
	env->pass_all = h != NULL && str_case_eq_cstr(h->value, "all");
	h = http_message_header(m, "Flags");
	if (h != NULL)
		parse_flags(env, h->value);
	h = http_message_header(m, "Raw");
	env->raw = h != NULL && str_case_eq_cstr(h->value, "yes");
	h = http_message_header(m, "Log");
	env->no_log |= h != NULL && str_case_eq_cstr(h->value, "no");
	env->milter |= http_message_header(m, "Milter") != NULL;
	copy_request_headers(task, m);
}

void
scan_http_fill_envelope(struct scan_task *task, const struct http_message *m)
{
	fill_envelope(task, m);
}

static void
reply_task(struct http_request *req, const struct http_message *m,
    struct scan_task *task, enum scan_cmd cmd)
{
	struct scan_reply_opts opts = { false, false };
	const struct http_header *h = http_message_header(m, "URL-Format");
	struct obj *r;
	struct buf out;

	buf_init(&out, 0);
	if (req->msg->legacy_rspamc) {
		scan_reply_legacy(task, &out);
		http_reply_raw(req, out.data, out.len, true);
		buf_deinit(&out);
		return;
	}
	opts.extended_urls = h != NULL && str_case_eq_cstr(h->value, "extended");
	h = http_message_header(m, "Flags");
	opts.groups = h != NULL && str_find_case(h->value, STR_LIT("groups")) >= 0;
	r = cmd == SCAN_CMD_CHECKV1 ? scan_reply_v1(task, &opts) : scan_reply_v2(task, &opts);
	obj_emit_json(r, &out, false);
	obj_free(&r);
	http_reply(req, 200, "OK", "application/json", NULL, 0, out.data, out.len);
	buf_deinit(&out);
}

struct scan_http_job {
	struct http_request *req;
	struct http_message m;
	enum scan_cmd cmd;
};

static void
scan_done(struct scan_task *task, void *ud)
{
	struct scan_http_job *job = ud;

	shared_stats_count_scan(task->action, action_is_spam(task->action), task->time_real);
	history_add(task);
	scan_task_log(task);
	reply_task(job->req, &job->m, task, job->cmd);
	scan_task_free(&task);
}

void
scan_http_handle(struct http_request *req, const struct scan_engine *engine,
    struct ev_loop *loop, enum scan_cmd cmd)
{
	const struct config *cfg = scan_engine_config(engine);
	struct scan_http_job *job = pool_alloc(req->pool, sizeof(*job));
	struct scan_task *task;

	if (job == NULL || http_message_with_query_headers(req->msg, req->pool, &job->m) < 0) {
		http_reply_json_error(req, 500, "request too large", "rspamd-task");
		return;
	}
	if (job->m.body_len > cfg->max_message) {
		http_reply_json_error(req, 500, "message is too big", "rspamd-task");
		return;
	}
	job->req = req;
	job->cmd = cmd;
	/* rspamc and MTAs open one connection per scan; keep-alive clients
	 * make this a request count, which is what the counter is used for. */
	shared_stats_count_connection();
	task = scan_task_new(engine, job->m.body != NULL ? job->m.body : "", job->m.body_len);
	fill_envelope(task, &job->m);
	if (cmd == SCAN_CMD_SKIP)
		task->env.skip = true;
	/* Rules check the time budget between them; the watchdog covers a rule
	 * that never returns. Asynchronous waits are bounded by the budget. */
	worker_watchdog_arm(cfg->task_timeout * 2 + 2);
	scan_task_process_async(task, loop, scan_done, job);
	worker_watchdog_disarm();
}
