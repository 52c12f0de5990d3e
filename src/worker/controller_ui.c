/*
 * controller_ui.c - the web UI's dashboard and configuration endpoints
 * (spec/controller.md sections 2 and 3): /graph, /pie, /history,
 * /historyreset, /errors, /symbols, /actions, /neighbours, /saveactions
 * and /savesymbols.
 *
 * Reads come from the shared statistics region (graph, errors), the
 * shared history file and this controller's own engine and config (which
 * a reload replaces together with the controller). Writes go to the
 * site's local.d/ files through settings_store.c, which checks the
 * configuration still loads, and then ask the supervisor to reload, so
 * every worker uses the new values without a restart; the reply is sent
 * before that reload reaches this process.
 *
 * Deviations from spec/controller.md (shapes are as the spec gives them):
 *   - /saveactions and /savesymbols write local.d/actions.conf and
 *     local.d/symbols.conf (Rspamd keeps a dynamic_conf file instead);
 *     other keys already in those files are kept. override.d/ still
 *     wins over them, as it wins over everything in local.d.
 *   - /graph accepts only the spec's types day, week, month, year.
 *   - /history's from/to are row indexes, newest row 0, both inclusive.
 *   - /symbols reports frequency and time as 0 (not measured).
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "config/ucl_parser.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "scan/engine.h"
#include "worker/controller_internal.h"
#include "worker/history.h"
#include "worker/settings_store.h"
#include "worker/shared_stats.h"
#include "worker/worker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
reply_success(struct http_request *req)
{
	static const char ok[] = "{\"success\":true}";

	controller_reply_json(req, 200, NULL, ok, sizeof(ok) - 1);
}

void
controller_graph(struct controller *c, struct http_request *req)
{
	const char *type = http_query_param(req->msg, "type", req->pool);
	struct obj *o = shared_stats_graph(type, (int64_t)time(NULL));

	UNUSED(c);
	if (o == NULL) {
		controller_reply_error(req, 400, "Invalid graph type");
		return;
	}
	controller_reply_obj(req, &o);
}

void
controller_pie(struct controller *c, struct http_request *req)
{
	static const struct {
		const char *color, *label;
		enum stats_action a, b;
	} slices[] = {
		{ "#66cc00", "Clean", STATS_ACTION_NO_ACTION, STATS_ACTION_COUNT },
		{ "#cc9966", "Temporarily rejected", STATS_ACTION_SOFT_REJECT, STATS_ACTION_COUNT },
		{ "#FFD700", "Probable spam", STATS_ACTION_ADD_HEADER, STATS_ACTION_REWRITE_SUBJECT },
		{ "#436EEE", "Greylisted", STATS_ACTION_GREYLIST, STATS_ACTION_COUNT },
		{ "#FF0000", "Rejected", STATS_ACTION_REJECT, STATS_ACTION_COUNT },
	};
	struct stats_snapshot s;
	struct obj *a = obj_new_array();

	UNUSED(c);
	shared_stats_snapshot(&s);
	for (size_t i = 0; i < ARRAY_SIZE(slices); i++) {
		struct obj *o = obj_new_object();
		double v = (double)s.actions[slices[i].a];

		if (slices[i].b != STATS_ACTION_COUNT)
			v += (double)s.actions[slices[i].b];
		obj_object_set(o, "color", obj_new_string(slices[i].color));
		obj_object_set(o, "label", obj_new_string(slices[i].label));
		obj_object_set(o, "data", obj_new_float(v));
		obj_object_set(o, "value", obj_new_float(v));
		obj_array_append(a, o);
	}
	controller_reply_obj(req, &a);
}

static long
query_long(struct http_request *req, const char *name, long dflt)
{
	const char *v = http_query_param(req->msg, name, req->pool);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtol(v, &end, 10);
	return *end == '\0' && n >= 0 ? n : dflt;
}

void
controller_history(struct controller *c, struct http_request *req)
{
	struct buf b;

	buf_init(&b, 0);
	if (history_export(c->ctx->cfg, query_long(req, "from", 0), query_long(req, "to", -1),
	    &b) < 0)
		log_warn("controller", NULL, "/history: the history file is unavailable");
	controller_reply_json(req, 200, NULL, b.data, b.len);
	buf_deinit(&b);
}

void
controller_history_reset(struct controller *c, struct http_request *req)
{
	if (history_reset(c->ctx->cfg) < 0) {
		controller_reply_error(req, 500, "Cannot reset the history");
		return;
	}
	log_info("controller", NULL, "history reset by %s", req->peer_text);
	reply_success(req);
}

void
controller_errors(struct controller *c, struct http_request *req)
{
	struct obj *o = shared_stats_errors();

	UNUSED(c);
	controller_reply_obj(req, &o);
}

void
controller_neighbours(struct controller *c, struct http_request *req)
{
	const struct obj *n = obj_lookup_path(c->ctx->cfg->root, "options.neighbours");
	struct obj *o = n != NULL && n->type == OBJ_OBJECT ? obj_copy(n) : obj_new_object();

	controller_reply_obj(req, &o);
}

/* The group's entry in `groups`, created at the end when new. */
static struct obj *
group_rules(struct obj *groups, const char *name)
{
	const struct obj *it = NULL, *g;
	struct obj *ng;

	while ((g = obj_iter_values(groups, &it)) != NULL) {
		if (strcmp(obj_get_string(obj_lookup(g, "group")), name) == 0)
			return obj_lookup(g, "rules");
	}
	ng = obj_new_object();
	obj_object_set(ng, "group", obj_new_string(name));
	obj_object_set(ng, "rules", obj_new_array());
	obj_array_append(groups, ng);
	return obj_lookup(ng, "rules");
}

void
controller_symbols(struct controller *c, struct http_request *req)
{
	struct obj *groups = obj_new_array();
	const struct symbol_info *si;

	for (size_t i = 0; (si = scan_engine_symbol_at(c->ctx->engine, i)) != NULL; i++) {
		struct obj *r = obj_new_object();

		obj_object_set(r, "symbol", obj_new_string(si->name));
		obj_object_set(r, "weight", obj_new_float(si->weight));
		if (si->description != NULL)
			obj_object_set(r, "description", obj_new_string(si->description));
		obj_object_set(r, "frequency", obj_new_float(0));
		obj_object_set(r, "frequency_stddev", obj_new_float(0));
		obj_object_set(r, "time", obj_new_float(0));
		obj_array_append(group_rules(groups, si->group != NULL ? si->group : "ungrouped"), r);
	}
	controller_reply_obj(req, &groups);
}

/* Threshold of action `i` in /stat order; NAN when off. */
static double
action_value(const struct config_actions *a, enum stats_action i)
{
	switch (i) {
	case STATS_ACTION_REJECT:
		return a->reject;
	case STATS_ACTION_REWRITE_SUBJECT:
		return a->rewrite_subject;
	case STATS_ACTION_ADD_HEADER:
		return a->add_header;
	case STATS_ACTION_GREYLIST:
		return a->greylist;
	default:
		return NAN;
	}
}

/* Enabled actions by threshold, then the others (as Rspamd lists them). */
void
controller_actions(struct controller *c, struct http_request *req)
{
	const struct config_actions *ca = &c->ctx->cfg->actions;
	struct obj *a = obj_new_array();
	bool done[STATS_ACTION_COUNT] = { false };

	for (int n = 0; n < STATS_ACTION_COUNT; n++) {
		int best = -1;

		for (int i = 0; i < STATS_ACTION_COUNT; i++) {
			double v = action_value(ca, (enum stats_action)i);

			if (done[i])
				continue;
			if (best < 0 || (!isnan(v) && (isnan(action_value(ca, (enum stats_action)best)) ||
			    v < action_value(ca, (enum stats_action)best))))
				best = i;
		}
		struct obj *o = obj_new_object();
		double v = action_value(ca, (enum stats_action)best);

		done[best] = true;
		obj_object_set(o, "action", obj_new_string(
		    shared_stats_action_name((enum stats_action)best)));
		obj_object_set(o, "value", isnan(v) ? obj_new_null() : obj_new_float(v));
		obj_array_append(a, o);
	}
	controller_reply_obj(req, &a);
}

/* The request body as JSON; NULL (and the reply sent) when unusable. */
static struct obj *
json_body(struct http_request *req)
{
	struct obj *o;
	char *err = NULL;

	if (req->msg->body == NULL || req->msg->body_len == 0) {
		controller_reply_error(req, 400, "Cannot parse input");
		return NULL;
	}
	o = ucl_parse_json(req->msg->body, req->msg->body_len, &err);
	free(err);
	if (o == NULL || o->type != OBJ_ARRAY) {
		obj_free(&o);
		controller_reply_error(req, 400, "Cannot parse input");
		return NULL;
	}
	return o;
}

/* Writes local.d/<name> and reloads; replies either way. */
static void
save_and_reload(struct controller *c, struct http_request *req, const char *name,
    const struct obj *o)
{
	char *err = NULL;

	if (settings_store_save_local(c->ctx->cfg, name, o, &err) < 0) {
		log_error("controller", NULL, "saving %s failed: %s", name, err);
		controller_reply_error(req, 500, err != NULL ? err : "Cannot save");
		free(err);
		return;
	}
	log_notice("controller", NULL, "%s saved by %s", name, req->peer_text);
	reply_success(req);
	settings_store_request_reload(c->ctx->loop);
}

void
controller_saveactions(struct controller *c, struct http_request *req)
{
	static const char *const keys[4] = { "reject", "rewrite_subject", "add_header",
		"greylist" };
	struct obj *in = json_body(req), *file;
	char *path, *err = NULL;
	double v;
	bool ok;

	if (in == NULL)
		return;
	ok = obj_count(in) == ARRAY_SIZE(keys);
	for (size_t i = 0; ok && i < ARRAY_SIZE(keys); i++) {
		const struct obj *e = obj_array_at(in, i);

		if (e->type != OBJ_NULL && (obj_get_double(e, &v) < 0 || !isfinite(v)))
			ok = false;
	}
	if (!ok) {
		obj_free(&in);
		controller_reply_error(req, 400, "Cannot parse input");
		return;
	}
	path = settings_store_local_path(c->ctx->cfg, "actions.conf");
	file = settings_store_load(path, &err);
	free(path);
	if (file == NULL) {
		controller_reply_error(req, 500, err);
		free(err);
		obj_free(&in);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		obj_object_set(file, keys[i], obj_copy(obj_array_at(in, i)));
	save_and_reload(c, req, "actions.conf", file);
	obj_free(&file);
	obj_free(&in);
}

/* Sets NAME { weight = v; } in `file`, keeping the entry's other keys. */
static void
set_weight(struct obj *file, const char *name, double v)
{
	struct obj *e = obj_lookup(file, name);

	if (e == NULL || e->type != OBJ_OBJECT) {
		e = obj_new_object();
		obj_object_set(file, name, e);
	}
	obj_object_remove(e, "score");
	obj_object_set(e, "weight", obj_new_float(v));
}

void
controller_savesymbols(struct controller *c, struct http_request *req)
{
	struct obj *in = json_body(req), *file;
	char *path, *err = NULL;
	size_t changed = 0;

	if (in == NULL)
		return;
	path = settings_store_local_path(c->ctx->cfg, "symbols.conf");
	file = settings_store_load(path, &err);
	free(path);
	if (file == NULL) {
		controller_reply_error(req, 500, err);
		free(err);
		obj_free(&in);
		return;
	}
	for (size_t i = 0; i < obj_count(in); i++) {
		const struct obj *e = obj_array_at(in, i);
		const char *name = obj_get_string(obj_lookup(e, "name"));
		const struct symbol_info *si = name != NULL ?
		    scan_engine_symbol(c->ctx->engine, name) : NULL;
		double v;

		if (si == NULL || obj_get_double(obj_lookup(e, "value"), &v) < 0 || !isfinite(v))
			continue;
		if (fabs(v - si->weight) < 1e-9)
			continue;
		set_weight(file, name, v);
		changed++;
	}
	if (changed == 0)
		controller_reply_error(req, 404, "No symbols to save");
	else
		save_and_reload(c, req, "symbols.conf", file);
	obj_free(&file);
	obj_free(&in);
}
