/*
 * reply.c - scan results in the shapes the clients of Rspamd parse.
 *
 * Key order follows Rspamd's emitter; a few clients and golden files care.
 */
#include "scan/reply.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "mime/message.h"
#include "scan/actions.h"
#include "scan/engine.h"
#include "scan/milter_headers.h"
#include "scan/task.h"

#include <string.h>

static struct obj *
symbol_obj(const struct scan_symbol *s, bool with_metric_score)
{
	struct obj *o = obj_new_object();

	obj_object_append(o, "name", obj_new_string(s->name));
	obj_object_append(o, "score", obj_new_float(s->score));
	if (with_metric_score)
		obj_object_append(o, "metric_score", obj_new_float(s->weight));
	if (s->description != NULL)
		obj_object_append(o, "description", obj_new_string(s->description));
	if (s->n_options != 0) {
		struct obj *opts = obj_new_array();

		for (size_t i = 0; i < s->n_options; i++)
			obj_array_append(opts, obj_new_string(s->options[i]));
		obj_object_append(o, "options", opts);
	}
	return o;
}

static void
add_urls_emails(struct obj *r, const struct scan_task *task, const struct scan_reply_opts *o)
{
	const struct mime_message *m = task->msg;
	struct obj *urls, *emails;

	if (m == NULL || (m->n_urls == 0 && m->n_emails == 0))
		return;
	urls = obj_new_array();
	for (size_t i = 0; i < m->n_urls; i++) {
		const struct mime_url *u = &m->urls[i];
		bool dup = false;

		if (u->flags & MIME_URL_MAILTO)
			continue;
		if (o->extended_urls) {
			struct obj *e = obj_new_object();

			obj_object_append(e, "url", obj_new_string(u->url));
			obj_object_append(e, "host", obj_new_string(u->host));
			if (u->displayed != NULL)
				obj_object_append(e, "displayed", obj_new_string(u->displayed));
			obj_object_append(e, "phished", obj_new_bool((u->flags & MIME_URL_PHISHED) != 0));
			obj_array_append(urls, e);
			continue;
		}
		/* The plain form lists each host once. */
		for (const struct obj *c = obj_first(urls); c != NULL && !dup; c = c->next)
			dup = strcmp(obj_get_string(c), u->host) == 0;
		if (!dup && u->host[0] != '\0')
			obj_array_append(urls, obj_new_string(u->host));
	}
	obj_object_append(r, "urls", urls);
	emails = obj_new_array();
	for (size_t i = 0; i < m->n_emails; i++)
		obj_array_append(emails, obj_new_string(m->emails[i].addr));
	obj_object_append(r, "emails", emails);
}

static struct obj *
header_obj(const char *value, int order)
{
	struct obj *h = obj_new_object();

	obj_object_append(h, "value", obj_new_string(value));
	obj_object_append(h, "order", obj_new_int(order));
	return h;
}

/* One more header under `name`: a lone object, or an array once repeated. */
static void
add_header_entry(struct obj *add, const char *name, struct obj *h)
{
	struct obj *cur = obj_lookup(add, name), *list;

	if (cur == NULL) {
		obj_object_append(add, name, h);
		return;
	}
	if (cur->type != OBJ_ARRAY) {
		list = obj_new_array();
		obj_array_append(list, obj_copy(cur));
		obj_object_set(add, name, list);
		cur = list;
	}
	obj_array_append(cur, h);
}

static struct obj *
milter_obj(const struct scan_task *task)
{
	struct obj *milter = obj_new_object(), *rm = obj_new_object();
	struct obj *add = obj_new_object();

	/* An upstream X-Spam flag must never survive our verdict. */
	obj_object_append(rm, "X-Spam", obj_new_int(0));
	obj_object_append(milter, "remove_headers", rm);
	if (task->n_dkim_signatures != 0) {
		/* An external MTA adds our signatures through the milter block. */
		struct obj *list = obj_new_array();

		for (size_t i = 0; i < task->n_dkim_signatures; i++)
			obj_array_append(list, header_obj(task->dkim_signatures[i], 0));
		obj_object_append(add, "DKIM-Signature", list);
	}
	for (size_t i = 0; i < task->n_add_headers; i++)
		add_header_entry(add, task->add_headers[i].name,
		    header_obj(task->add_headers[i].value, task->add_headers[i].order));
	milter_headers_emit(task, add, rm);
	if (obj_count(add) != 0)
		obj_object_append(milter, "add_headers", add);
	else
		obj_free(&add);
	return milter;
}

static struct obj *
messages_obj(const struct scan_task *task)
{
	struct obj *msgs = obj_new_object();

	if (task->pre_message != NULL)
		obj_object_append(msgs, "smtp_message", obj_new_string(task->pre_message));
	return msgs;
}

static void
add_head(struct obj *r, const struct scan_task *task)
{
	obj_object_append(r, "is_skipped", obj_new_bool(task->skipped));
	obj_object_append(r, "score", obj_new_float(task->score));
	obj_object_append(r, "required_score",
	    obj_new_float(actions_required_score(&task->cfg->actions)));
	obj_object_append(r, "action", obj_new_string(task->action));
	if (task->subject != NULL)
		obj_object_append(r, "subject", obj_new_string(task->subject));
}

static void
add_tail(struct obj *r, const struct scan_task *task, const struct scan_reply_opts *o)
{
	add_urls_emails(r, task, o);
	if (task->msg != NULL && task->msg->message_id != NULL)
		obj_object_append(r, "message-id", obj_new_string(task->msg->message_id));
	obj_object_append(r, "time_real", obj_new_float(task->time_real));
	if (task->n_dkim_signatures == 1) {
		obj_object_append(r, "dkim-signature", obj_new_string(task->dkim_signatures[0]));
	} else if (task->n_dkim_signatures > 1) {
		struct obj *sigs = obj_new_array();

		for (size_t i = 0; i < task->n_dkim_signatures; i++)
			obj_array_append(sigs, obj_new_string(task->dkim_signatures[i]));
		obj_object_append(r, "dkim-signature", sigs);
	}
}

static struct obj *
groups_obj(const struct scan_task *task)
{
	struct obj *groups = obj_new_object();

	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next) {
		const struct symbol_info *si = scan_engine_symbol(task->engine, s->name);
		const char *gname = si != NULL && si->group != NULL ? si->group : "ungrouped";
		struct obj *g = obj_lookup(groups, gname), *score;

		if (g == NULL) {
			g = obj_new_object();
			obj_object_append(g, "score", obj_new_float(0.0));
			obj_object_append(groups, gname, g);
		}
		score = obj_lookup(g, "score");
		score->v.f += s->score;
	}
	return groups;
}

struct obj *
scan_reply_v2(const struct scan_task *task, const struct scan_reply_opts *o)
{
	struct obj *r = obj_new_object(), *syms = obj_new_object();

	add_head(r, task);
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next)
		obj_object_append(syms, s->name, symbol_obj(s, true));
	obj_object_append(r, "symbols", syms);
	if (o->groups)
		obj_object_append(r, "groups", groups_obj(task));
	obj_object_append(r, "messages", messages_obj(task));
	add_tail(r, task, o);
	obj_object_append(r, "milter", milter_obj(task));
	return r;
}

struct obj *
scan_reply_v1(const struct scan_task *task, const struct scan_reply_opts *o)
{
	struct obj *r = obj_new_object(), *def = obj_new_object();

	obj_object_append(def, "is_spam", obj_new_bool(action_is_spam(task->action)));
	add_head(def, task);
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next)
		obj_object_append(def, s->name, symbol_obj(s, false));
	obj_object_append(r, "default", def);
	obj_object_append(r, "messages", messages_obj(task));
	add_tail(r, task, o);
	obj_object_append(r, "rmilter", milter_obj(task));
	return r;
}

/* Message content must not be able to add lines to the reply. */
static int
append_line_safe(struct buf *out, const char *label, const char *value)
{
	int r = buf_append_cstr(out, label);

	for (const char *p = value; *p != '\0' && r == 0; p++)
		r = buf_putc(out, (unsigned char)*p < 0x20 ? ' ' : *p);
	return r | buf_append(out, "\r\n", 2);
}

int
scan_reply_legacy(const struct scan_task *task, struct buf *out)
{
	int r = 0;

	/* Exim sscanf()s the first two lines: their shape is fixed. */
	r |= buf_append_cstr(out, "RSPAMD/1.3 0 EX_OK\r\n");
	r |= buf_printf(out, "Metric: default; %s; %.2f / %.2f / 0.0\r\n",
	    action_is_spam(task->action) && strcmp(task->action, "soft reject") != 0 ?
		"True" : "False",
	    task->score, actions_required_score(&task->cfg->actions));
	r |= buf_printf(out, "Action: %s\r\n", task->action);
	if (task->subject != NULL)
		r |= append_line_safe(out, "Subject: ", task->subject);
	for (const struct scan_symbol *s = task->symbols; s != NULL; s = s->next)
		r |= buf_printf(out, "Symbol: %s(%.2f)\r\n", s->name, s->score);
	if (task->pre_message != NULL)
		r |= append_line_safe(out, "Message: ", task->pre_message);
	if (task->msg != NULL && task->msg->message_id != NULL)
		r |= append_line_safe(out, "Message-ID: ", task->msg->message_id);
	return r == 0 ? 0 : -1;
}
