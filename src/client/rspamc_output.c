/*
 * rspamc_output.c - the text that rspamc prints for each reply.
 *
 * People and scripts parse rspamc's output, so every format here matches
 * Debian's rspamc 3.4 byte for byte; the rules were established by running
 * that binary against canned replies (see test/unit/client/). Numbers go
 * through printf ("%.2f" scores, "%.3g" elapsed time) because 3.4's fmt
 * calls round the same way. Where 3.4 crashes (a symbol without a name, a
 * non-string option) we print something sensible instead.
 *
 * The per-command bodies are pure functions of a value tree; only
 * rspamc_output_reply() deals with HTTP status, transport errors and the
 * JSON/UCL modes, and it parses the body with the config area's JSON
 * parser.
 */
#include "client/rspamc.h"

#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/obj.h"
#include "core/xmalloc.h"
#include "http/http_parser.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- UCL (libucl "config" emitter syntax) ---- */

static bool
ucl_key_needs_quotes(const char *key, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c <= ' ' || c >= 0x7f || strchr(":+=\\\"[{", c) != NULL)
			return true;
	}
	return false;
}

static int
ucl_indent(struct buf *out, int depth)
{
	int r = 0;

	for (int i = 0; i < depth; i++)
		r |= buf_append(out, "    ", 4);
	return r;
}

static int ucl_emit_container(const struct obj *o, struct buf *out, int depth);

static int
ucl_emit_scalar(const struct obj *o, struct buf *out)
{
	switch (o->type) {
	case OBJ_NULL:
		return buf_append_cstr(out, "null");
	case OBJ_BOOL:
		return buf_append_cstr(out, o->v.b ? "true" : "false");
	case OBJ_INT:
		return buf_printf(out, "%lld", (long long)o->v.i);
	case OBJ_FLOAT:
		return obj_emit_json_double(out, o->v.f);
	case OBJ_STRING:
		return obj_emit_json_string(out, o->v.s.ptr, o->v.s.len);
	default:
		return -1;
	}
}

/* One member (key != NULL) or array element at `depth`. */
static int
ucl_emit_item(const struct obj *o, const char *key, size_t keylen,
    struct buf *out, int depth)
{
	bool container = o->type == OBJ_ARRAY || o->type == OBJ_OBJECT;
	int r = ucl_indent(out, depth);

	if (key != NULL) {
		if (ucl_key_needs_quotes(key, keylen))
			r |= obj_emit_json_string(out, key, keylen);
		else
			r |= buf_append(out, key, keylen);
		r |= buf_append_cstr(out, container ? " " : " = ");
	}
	if (container)
		return r | ucl_emit_container(o, out, depth);
	r |= ucl_emit_scalar(o, out);
	r |= buf_append_cstr(out, key != NULL ? ";\n" : ",\n");
	return r == 0 ? 0 : -1;
}

/* "{" / "[" ... closing bracket at `depth`, or "{}" / "[]" when empty. */
static int
ucl_emit_container(const struct obj *o, struct buf *out, int depth)
{
	bool is_obj = o->type == OBJ_OBJECT;
	int r = 0;

	if (o->v.list.head == NULL)
		return buf_append_cstr(out, is_obj ? "{}\n" : "[]\n");
	r |= buf_append_cstr(out, is_obj ? "{\n" : "[\n");
	for (const struct obj *c = o->v.list.head; c != NULL; c = c->next)
		r |= ucl_emit_item(c, is_obj ? c->key : NULL, c->keylen, out, depth + 1);
	r |= ucl_indent(out, depth);
	r |= buf_append_cstr(out, is_obj ? "}\n" : "]\n");
	return r == 0 ? 0 : -1;
}

int
rspamc_output_ucl(const struct obj *o, struct buf *out)
{
	int r = 0;

	if (o->type == OBJ_ARRAY) {
		/* libucl ends a top-level array without a newline */
		r = ucl_emit_container(o, out, 0);
		if (r == 0 && out->len > 0 && out->data[out->len - 1] == '\n')
			out->data[--out->len] = '\0';
		return r;
	}
	if (o->type != OBJ_OBJECT) {
		r |= ucl_emit_scalar(o, out);
		return r | buf_putc(out, '\n');
	}
	for (const struct obj *c = o->v.list.head; c != NULL; c = c->next)
		r |= ucl_emit_item(c, c->key, c->keylen, out, 0);
	return r == 0 ? 0 : -1;
}

/* ---- symbols ---- */

static double
num_or_zero(const struct obj *o)
{
	double d = 0.0;

	if (o == NULL || obj_get_double(o, &d) < 0 || !isfinite(d))
		return 0.0;
	return d;
}

/* A string's bytes as is; anything else as compact JSON. */
static int
emit_plain(const struct obj *o, struct buf *out)
{
	if (o->type == OBJ_STRING)
		return buf_append(out, o->v.s.ptr, o->v.s.len);
	return obj_emit_json(o, out, false);
}

static const char *
symbol_name(const struct obj *sym)
{
	const char *name = obj_get_string(obj_lookup(sym, "name"));

	return name != NULL ? name : (sym->key != NULL ? sym->key : "");
}

static int
cmp_symbols(const void *a, const void *b)
{
	const struct obj *sa = *(const struct obj *const *)a;
	const struct obj *sb = *(const struct obj *const *)b;

	return strcmp(symbol_name(sa), symbol_name(sb));
}

static int
emit_symbol(const struct obj *sym, struct buf *out)
{
	const struct obj *opts = obj_lookup(sym, "options");
	int r = 0;

	r |= buf_printf(out, "Symbol: %s (%.2f)", symbol_name(sym),
	    num_or_zero(obj_lookup(sym, "score")));
	if (opts != NULL && opts->type == OBJ_ARRAY) {
		r |= buf_putc(out, '[');
		for (const struct obj *c = obj_first(opts); c != NULL; c = c->next) {
			r |= emit_plain(c, out);
			if (c->next != NULL)
				r |= buf_append_cstr(out, ", ");
		}
		r |= buf_putc(out, ']');
	}
	r |= buf_putc(out, '\n');
	return r == 0 ? 0 : -1;
}

static int
emit_symbols(const struct obj *symbols, struct buf *out)
{
	size_t n = 0, count;
	const struct obj **v;
	int r = 0;

	if (symbols == NULL || symbols->type != OBJ_OBJECT)
		return 0;
	count = obj_count(symbols);
	v = xcalloc(count + 1, sizeof(*v));
	for (const struct obj *c = obj_first(symbols); c != NULL; c = c->next) {
		if (c->type == OBJ_OBJECT)
			v[n++] = c;
	}
	qsort(v, n, sizeof(*v), cmp_symbols);
	for (size_t i = 0; i < n; i++)
		r |= emit_symbol(v[i], out);
	free(v);
	return r;
}

/* Spam/ham is derived from the action name, as 3.4 does; NULL = unknown. */
static const char *
action_is_spam(const char *action)
{
	static const char *const spam[] = {
		"reject", "soft reject", "rewrite subject", "add header",
	};

	for (size_t i = 0; i < ARRAY_SIZE(spam); i++) {
		if (strcmp(action, spam[i]) == 0)
			return "true";
	}
	if (strcmp(action, "greylist") == 0 || strcmp(action, "no action") == 0)
		return "false";
	return NULL;
}

static int
emit_head(const struct obj *reply, struct buf *out)
{
	const struct obj *action = obj_lookup(reply, "action");
	const struct obj *subject = obj_lookup(reply, "subject");
	const struct obj *score = obj_lookup(reply, "score");
	const struct obj *req = obj_lookup(reply, "required_score");
	int r = 0;

	if (action != NULL) {
		r |= buf_append_cstr(out, "Action: ");
		r |= emit_plain(action, out);
		r |= buf_putc(out, '\n');
		if (action->type == OBJ_STRING && action_is_spam(action->v.s.ptr) != NULL)
			r |= buf_printf(out, "Spam: %s\n", action_is_spam(action->v.s.ptr));
	}
	if (subject != NULL) {
		r |= buf_append_cstr(out, "Subject: ");
		r |= emit_plain(subject, out);
		r |= buf_putc(out, '\n');
	}
	if (score != NULL && req != NULL)
		r |= buf_printf(out, "Score: %.2f / %.2f\n", num_or_zero(score),
		    num_or_zero(req));
	return r;
}

/* "Label: value" when the key is present; arrays as compact JSON. */
static int
emit_field(const struct obj *reply, const char *key, const char *label,
    struct buf *out)
{
	const struct obj *o = obj_lookup(reply, key);
	int r = 0;

	if (o == NULL)
		return 0;
	r |= buf_printf(out, "%s: ", label);
	r |= emit_plain(o, out);
	return r | buf_putc(out, '\n');
}

static int
emit_tail(const struct obj *reply, struct buf *out)
{
	const struct obj *msgs = obj_lookup(reply, "messages");
	const struct obj *dkim = obj_lookup(reply, "dkim-signature");
	const struct obj *it = NULL, *v;
	int r = 0;

	r |= emit_field(reply, "message-id", "Message-ID", out);
	r |= emit_field(reply, "urls", "Urls", out);
	r |= emit_field(reply, "emails", "Emails", out);
	r |= emit_field(reply, "error", "Scan error", out);
	if (msgs != NULL && msgs->type == OBJ_OBJECT) {
		for (const struct obj *c = obj_first(msgs); c != NULL; c = c->next) {
			r |= buf_printf(out, "Message - %s: ", c->key);
			r |= emit_plain(c, out);
			r |= buf_putc(out, '\n');
		}
	}
	while (dkim != NULL && (v = obj_iter_values(dkim, &it)) != NULL) {
		r |= buf_append_cstr(out, "DKIM-Signature: ");
		r |= emit_plain(v, out);
		r |= buf_putc(out, '\n');
	}
	return r;
}

int
rspamc_output_symbols(const struct obj *reply, struct buf *out)
{
	int r = buf_append_cstr(out, "[Metric: default]\n");

	if (reply->type != OBJ_OBJECT)
		return r;
	r |= emit_head(reply, out);
	r |= emit_symbols(obj_lookup(reply, "symbols"), out);
	r |= emit_tail(reply, out);
	return r == 0 ? 0 : -1;
}

/* ---- stat ---- */

static long long
int_or_zero(const struct obj *reply, const char *key)
{
	int64_t v = 0;
	const struct obj *o = obj_lookup(reply, key);

	if (o == NULL || obj_get_int(o, &v) < 0) {
		double d = num_or_zero(o);

		return (long long)d;
	}
	return (long long)v;
}

static double
percent(long long part, long long whole)
{
	return whole > 0 ? (double)part / (double)whole * 100.0 : 0.0;
}

static int
emit_stat_actions(const struct obj *reply, long long scanned, struct buf *out)
{
	const struct obj *actions = obj_lookup(reply, "actions");
	long long spam = int_or_zero(reply, "spam_count");
	long long ham = int_or_zero(reply, "ham_count");
	int r = 0;

	if (actions != NULL && actions->type == OBJ_OBJECT) {
		for (const struct obj *c = obj_first(actions); c != NULL; c = c->next) {
			long long n = (long long)num_or_zero(c);

			r |= buf_printf(out, "Messages with action %s: %lld, %.2f%%\n",
			    c->key, n, percent(n, scanned));
		}
	}
	r |= buf_printf(out, "Messages treated as spam: %lld, %.2f%%\n", spam,
	    percent(spam, scanned));
	r |= buf_printf(out, "Messages treated as ham: %lld, %.2f%%\n", ham,
	    percent(ham, scanned));
	return r;
}

static int
emit_scan_time(const struct obj *reply, struct buf *out)
{
	const struct obj *times = obj_lookup(reply, "scan_times");
	double sum = 0.0, d;
	size_t n = 0;

	if (times == NULL || times->type != OBJ_ARRAY)
		return 0;
	for (const struct obj *c = obj_first(times); c != NULL; c = c->next) {
		if ((c->type == OBJ_INT || c->type == OBJ_FLOAT) &&
		    obj_get_double(c, &d) == 0) {
			sum += d;
			n++;
		}
	}
	if (n == 0)
		return 0;
	return buf_printf(out, "Average scan time: %.3f sec\n", sum / (double)n);
}

static int
emit_statfile(const struct obj *st, struct buf *out)
{
	long long total = int_or_zero(st, "total");
	long long used = int_or_zero(st, "used");
	const char *sym = obj_get_string(obj_lookup(st, "symbol"));
	const char *type = obj_get_string(obj_lookup(st, "type"));

	return buf_printf(out, "Statfile: %s type: %s; length: %lld; "
	    "free blocks: %lld; total blocks: %lld; free: %.2f%%; "
	    "learned: %lld; users: %lld; languages: %lld\n",
	    sym != NULL ? sym : "", type != NULL ? type : "",
	    int_or_zero(st, "size"), total - used, total,
	    percent(total - used, total), int_or_zero(st, "revision"),
	    int_or_zero(st, "users"), int_or_zero(st, "languages"));
}

int
rspamc_output_stat(const struct obj *reply, struct buf *out)
{
	static const struct {
		const char *key, *label;
	} counters[] = {
		{ "pools_allocated", "Pools allocated" },
		{ "pools_freed", "Pools freed" },
		{ "bytes_allocated", "Bytes allocated" },
		{ "chunks_allocated", "Memory chunks allocated" },
		{ "shared_chunks_allocated", "Shared chunks allocated" },
		{ "chunks_freed", "Chunks freed" },
		{ "chunks_oversized", "Oversized chunks" },
	};
	long long scanned = int_or_zero(reply, "scanned");
	const struct obj *stf = obj_lookup(reply, "statfiles");
	int r = 0;

	r |= buf_printf(out, "Messages scanned: %lld\n", scanned);
	if (scanned > 0)
		r |= emit_stat_actions(reply, scanned, out);
	r |= buf_printf(out, "Messages learned: %lld\n", int_or_zero(reply, "learned"));
	r |= buf_printf(out, "Connections count: %lld\n", int_or_zero(reply, "connections"));
	r |= buf_printf(out, "Control connections count: %lld\n",
	    int_or_zero(reply, "control_connections"));
	r |= emit_scan_time(reply, out);
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
		r |= buf_printf(out, "%s: %lld\n", counters[i].label,
		    int_or_zero(reply, counters[i].key));
	if (stf != NULL && stf->type == OBJ_ARRAY) {
		for (const struct obj *c = obj_first(stf); c != NULL; c = c->next)
			r |= emit_statfile(c, out);
	}
	r |= buf_printf(out, "Total learns: %lld\n", int_or_zero(reply, "total_learns"));
	return r == 0 ? 0 : -1;
}

/* ---- uptime ---- */

static const char *
plural(long long n)
{
	return n > 1 ? "s" : "";
}

int
rspamc_output_uptime(const struct obj *reply, struct buf *out)
{
	const struct obj *up = obj_lookup(reply, "uptime");
	long long s, d, h, m;
	int r = 0;

	/* 3.4 prints these two literal "%s" (a format bug); kept on purpose
	 * so that output compares equal. */
	if (obj_lookup(reply, "version") != NULL)
		r |= buf_append_cstr(out, "Rspamd version: %s\n");
	if (up == NULL)
		return r;
	s = int_or_zero(reply, "uptime");
	if (s >= 2 * 3600) {
		d = s / 86400;
		h = s / 3600 % 24;
		m = s / 60 % 60;
		r |= buf_printf(out, "Uptime: %lld day%s %lld hour%s %lld minute%s\n",
		    d, plural(d), h, plural(h), m, plural(m));
	} else if (s >= 60) {
		h = s / 3600;
		m = s / 60 % 60;
		s %= 60;
		r |= buf_printf(out, "Uptime: %lld hour%s %lld minute%s %lld second%s\n",
		    h, plural(h), m, plural(m), s, plural(s));
	} else {
		r |= buf_printf(out, "Uptime: %lld second%%s\n", s);
	}
	return r == 0 ? 0 : -1;
}

/* ---- counters ---- */

struct counter_row {
	const char *name;
	double weight;
	double frequency;
	double stddev;
	long long hits;
	size_t order;
};

static enum rspamc_sort counters_sort;

static int
cmp_counters(const void *a, const void *b)
{
	const struct counter_row *x = a, *y = b;
	int c = 0;

	switch (counters_sort) {
	case RSPAMC_SORT_NAME:
		c = strcmp(x->name, y->name);
		break;
	case RSPAMC_SORT_WEIGHT:
		c = (x->weight < y->weight) - (x->weight > y->weight);
		break;
	case RSPAMC_SORT_FREQUENCY:
		c = (x->frequency < y->frequency) - (x->frequency > y->frequency);
		break;
	case RSPAMC_SORT_HITS:
		c = (x->hits < y->hits) - (x->hits > y->hits);
		break;
	}
	if (c == 0)
		c = (x->order > y->order) - (x->order < y->order);
	return c;
}

/* Text centred in `width` columns, the extra space going right. */
static int
emit_centered(struct buf *out, const char *text, int width)
{
	int len = (int)strlen(text);
	int pad = width > len ? width - len : 0;

	return buf_printf(out, "%*s%s%*s", pad / 2, "", text, pad - pad / 2, "");
}

static int
emit_counter_row(const struct counter_row *row, size_t pri, struct buf *out)
{
	static const char sep[] = " ------------------------------------------"
	    "--------------------------------------- \n";
	char num[64];
	int r = 0;

	r |= buf_printf(out, "| %-4zu | ", pri);
	if (strlen(row->name) > 37)
		r |= buf_printf(out, "%.34s... | ", row->name);
	else
		r |= buf_printf(out, "%-37s | ", row->name);
	r |= str_format(num, sizeof(num), "%.1f", row->weight) < 0;
	r |= emit_centered(out, num, 7);
	r |= buf_printf(out, " | %-6.3f(%.3f) | ", row->frequency * 60.0,
	    row->stddev * 60.0);
	r |= str_format(num, sizeof(num), "%lld", row->hits) < 0;
	r |= emit_centered(out, num, 7);
	r |= buf_append_cstr(out, " |\n");
	r |= buf_append_cstr(out, sep);
	return r == 0 ? 0 : -1;
}

int
rspamc_output_counters(const struct obj *reply, enum rspamc_sort sort,
    struct buf *out)
{
	struct counter_row *rows;
	size_t n = 0;
	int r = 0;

	if (reply->type != OBJ_ARRAY)
		return buf_append_cstr(out, "Bad output\n");
	rows = xcalloc(obj_count(reply) + 1, sizeof(*rows));
	for (const struct obj *c = obj_first(reply); c != NULL; c = c->next) {
		const char *name = obj_get_string(obj_lookup(c, "symbol"));

		rows[n].name = name != NULL ? name : "";
		rows[n].weight = num_or_zero(obj_lookup(c, "weight"));
		rows[n].frequency = num_or_zero(obj_lookup(c, "frequency"));
		rows[n].stddev = num_or_zero(obj_lookup(c, "frequency_stddev"));
		rows[n].hits = int_or_zero(c, "hits");
		rows[n].order = n;
		n++;
	}
	counters_sort = sort;
	qsort(rows, n, sizeof(*rows), cmp_counters);
	r |= buf_append_cstr(out, "Symbols cache\n"
	    " --------------------------------------------------------------------------------- \n"
	    "| Pri  | Symbol                                | Weight  |   Frequency   |  Hits   |\n"
	    " --------------------------------------------------------------------------------- \n"
	    "|      |                                       |         |   hits/min    |         |\n"
	    " --------------------------------------------------------------------------------- \n");
	for (size_t i = 0; i < n; i++)
		r |= emit_counter_row(&rows[i], i, out);
	free(rows);
	return r == 0 ? 0 : -1;
}

/* ---- one reply ---- */

static int
emit_headers(const struct rspamc_reply *reply, struct buf *out)
{
	int r = 0;

	for (unsigned i = 0; i < reply->n_headers; i++) {
		const struct http_header *h = &reply->headers[i];

		r |= buf_printf(out, "%.*s: %.*s\n", (int)h->name.len,
		    h->name.ptr, (int)h->value.len, h->value.ptr);
	}
	return r | buf_putc(out, '\n');
}

/* The failure forms: the message, the raw body in JSON modes, a blank. */
static int
emit_failure(const struct rspamc_opts *opts, const struct rspamc_reply *reply,
    bool with_body, bool for_exec, struct buf *out)
{
	bool json = opts->output == RSPAMC_OUT_JSON ||
	    opts->output == RSPAMC_OUT_COMPACT;

	if (json && with_body) {
		(void)buf_append(out, reply->body, reply->body_len);
		(void)buf_putc(out, '\n');
	}
	if (!for_exec)
		(void)buf_putc(out, '\n');
	return -1;
}

static int
emit_text(const struct rspamc_opts *opts, const struct obj *o, struct buf *out)
{
	switch (opts->command->cmd) {
	case RSPAMC_CMD_SYMBOLS:
		return rspamc_output_symbols(o, out);
	case RSPAMC_CMD_STAT:
	case RSPAMC_CMD_STAT_RESET:
		return rspamc_output_stat(o, out);
	case RSPAMC_CMD_UPTIME:
		return rspamc_output_uptime(o, out);
	case RSPAMC_CMD_COUNTERS:
		return rspamc_output_counters(o, opts->sort, out);
	case RSPAMC_CMD_LEARN_SPAM:
	case RSPAMC_CMD_LEARN_HAM:
	case RSPAMC_CMD_FUZZY_ADD:
	case RSPAMC_CMD_FUZZY_DEL:
		break;
	}
	return rspamc_output_ucl(o, out);
}

static int
emit_parsed(const struct rspamc_opts *opts, const struct rspamc_reply *reply,
    struct obj *o, bool for_exec, struct buf *out)
{
	int r = 0;

	if (o->type == OBJ_OBJECT && !for_exec) {
		if (reply->is_file)
			obj_object_set(o, "filename", obj_new_string(reply->name));
		obj_object_set(o, "scan_time", obj_new_float(reply->elapsed));
	}
	switch (opts->output) {
	case RSPAMC_OUT_JSON:
	case RSPAMC_OUT_COMPACT:
		r |= obj_emit_json(o, out, opts->output == RSPAMC_OUT_JSON);
		if (!for_exec)
			r |= buf_putc(out, '\n');
		return r;
	case RSPAMC_OUT_UCL:
		r |= rspamc_output_ucl(o, out);
		break;
	case RSPAMC_OUT_TEXT:
		r |= emit_text(opts, o, out);
		break;
	}
	if (!for_exec)
		r |= buf_putc(out, '\n');
	return r;
}

int
rspamc_output_reply(const struct rspamc_opts *opts,
    const struct rspamc_reply *reply, bool for_exec, struct buf *out)
{
	bool json = opts->output == RSPAMC_OUT_JSON ||
	    opts->output == RSPAMC_OUT_COMPACT;
	struct obj *o = NULL;
	char *error = NULL;
	int r;

	if (!json && !for_exec)
		(void)buf_printf(out, "Results for %s: %s (%.3g seconds)\n",
		    reply->is_file ? "file" : "command", reply->name,
		    reply->elapsed);
	if (reply->io_error != NULL) {
		(void)buf_printf(out, "%s\n", reply->io_error);
		return emit_failure(opts, reply, false, for_exec, out);
	}
	if (opts->print_headers)
		(void)emit_headers(reply, out);
	if (reply->status < 200 || reply->status > 299 || reply->body_len == 0) {
		(void)buf_printf(out, "HTTP error: %d, %.*s\n", reply->status,
		    (int)reply->reason.len, reply->reason.ptr);
		return emit_failure(opts, reply, true, for_exec, out);
	}
	o = ucl_parse_json(reply->body, reply->body_len, &error);
	/* libucl, which 3.4 uses, rejects a bare scalar at the top level */
	if (o != NULL && o->type != OBJ_OBJECT && o->type != OBJ_ARRAY) {
		obj_free(&o);
		error = xstrdup("top-level value is not an object or array");
	}
	if (o == NULL) {
		(void)buf_printf(out, "Cannot parse UCL: %s\n",
		    error != NULL ? error : "invalid JSON");
		free(error);
		return emit_failure(opts, reply, true, for_exec, out);
	}
	r = emit_parsed(opts, reply, o, for_exec, out);
	obj_free(&o);
	/* A formatting failure means the output buffer hit its cap. */
	return r == 0 ? 0 : -1;
}
