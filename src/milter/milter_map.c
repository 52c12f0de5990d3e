/*
 * milter_map.c - scan reply object to milter packets.
 *
 * Follows Rspamd's proxy (spec/milter.md §5): header edits from the reply's
 * milter block first (they are sent even when the verdict rejects), then
 * DKIM signatures, then the verdict. One deliberate difference, asked for
 * by issue 10: a reject answers "550 5.7.1" where Rspamd says "554 5.7.1";
 * both are permanent failures and Postfix passes the text through.
 */
#include "milter/milter_map.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "milter/milter_proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REJECT_CODE "550 5.7.1"
#define TEMPFAIL_CODE "451 4.7.1"

struct map_state {
	const struct milter_map_opts *o;
	milter_header_count_fn *count;
	void *ud;
	struct buf *out;
	int err;
	bool spam_removed;   /* remove_headers already dropped the spam header */
	bool dkim_in_block;  /* DKIM-Signature came through add_headers */
	const char *reject_mode; /* milter.reject: "discard" / "quarantine" */
};

static const char *
spam_header_name(const struct map_state *st)
{
	return st->o->spam_header != NULL ? st->o->spam_header : "X-Spam";
}

/* Deletes occurrence(s) of `name` per Rspamd's remove_headers numbers. */
static void
remove_header(struct map_state *st, const char *name, int64_t n)
{
	size_t have = st->count(name, st->ud);

	if (n == 0) {
		for (size_t i = have; i >= 1; i--)
			st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER, (uint32_t)i,
			    name, "");
	} else if (n > 0 && (size_t)n <= have) {
		st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER, (uint32_t)n,
		    name, "");
	} else if (n < 0 && (size_t)(-n) <= have) {
		st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER,
		    (uint32_t)(have + 1 - (size_t)(-n)), name, "");
	}
	if (strcasecmp(name, spam_header_name(st)) == 0)
		st->spam_removed = true;
}

/* One add_headers entry: {value, order} or a plain string. */
static void
add_header(struct map_state *st, const char *name, const struct obj *h)
{
	const char *value = obj_get_string(h);
	int64_t order = -1;

	if (value == NULL && h->type == OBJ_OBJECT) {
		value = obj_get_string(obj_lookup(h, "value"));
		if (obj_get_int(obj_lookup(h, "order"), &order) < 0)
			order = -1;
	}
	if (value == NULL)
		return;
	if (strcasecmp(name, "DKIM-Signature") == 0)
		st->dkim_in_block = true;
	if (order == -1) {
		st->err |= milter_reply_addheader(st->out, name, value);
	} else if (order >= 0) {
		st->err |= milter_reply_header_at(st->out, MILTER_R_INSHEADER,
		    (uint32_t)MIN(order, (int64_t)UINT32_MAX), name, value);
	} else {
		size_t total = st->count(NULL, st->ud);
		int64_t idx = (int64_t)total + order + 1;

		st->err |= milter_reply_header_at(st->out, MILTER_R_INSHEADER,
		    (uint32_t)MAX(idx, 0), name, value);
	}
}

static void
string_list(struct map_state *st, const struct obj *list, char code)
{
	const struct obj *it = NULL, *v;

	while ((v = obj_iter_values(list, &it)) != NULL) {
		if (obj_get_string(v) != NULL)
			st->err |= milter_reply_string(st->out, code, obj_get_string(v));
	}
}

static void
milter_block(struct map_state *st, const struct obj *m)
{
	const struct obj *rm = obj_lookup(m, "remove_headers");
	const struct obj *add = obj_lookup(m, "add_headers");

	if (rm != NULL && rm->type == OBJ_OBJECT) {
		for (const struct obj *c = obj_first(rm); c != NULL; c = c->next) {
			int64_t n = 0;

			if (obj_get_int(c, &n) == 0)
				remove_header(st, c->key, n);
		}
	}
	if (add != NULL && add->type == OBJ_OBJECT) {
		for (const struct obj *c = obj_first(add); c != NULL; c = c->next) {
			const struct obj *it = NULL, *v;

			while ((v = obj_iter_values(c, &it)) != NULL)
				add_header(st, c->key, v);
		}
	}
	if (obj_get_string(obj_lookup(m, "change_from")) != NULL)
		st->err |= milter_reply_string(st->out, MILTER_R_CHGFROM,
		    obj_get_string(obj_lookup(m, "change_from")));
	string_list(st, obj_lookup(m, "add_rcpt"), MILTER_R_ADDRCPT);
	string_list(st, obj_lookup(m, "del_rcpt"), MILTER_R_DELRCPT);
	st->reject_mode = obj_get_string(obj_lookup(m, "reject"));
}

/* add header: drop every present spam header, then set ours. */
static void
mark_spam(struct map_state *st, const char *name, const char *value)
{
	if (!st->spam_removed) {
		for (size_t i = st->count(name, st->ud); i >= 1; i--)
			st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER,
			    (uint32_t)i, name, "");
	}
	st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER, 1, name, value);
	st->err |= milter_reply_simple(st->out, MILTER_R_ACCEPT);
}

/* The block's own spam_header: a name ("X-Spam") or {name: value}. */
static bool
block_spam_header(struct map_state *st, const struct obj *m)
{
	const struct obj *sh = obj_lookup(m, "spam_header");

	if (sh == NULL)
		return false;
	if (obj_get_string(sh) != NULL) {
		mark_spam(st, obj_get_string(sh), "Yes");
		return true;
	}
	if (sh->type == OBJ_OBJECT && obj_first(sh) != NULL &&
	    obj_get_string(obj_first(sh)) != NULL) {
		mark_spam(st, obj_first(sh)->key, obj_get_string(obj_first(sh)));
		return true;
	}
	return false;
}

static void
dkim_signatures(struct map_state *st, const struct obj *reply)
{
	const struct obj *it = NULL, *v;
	uint32_t idx = 1;

	if (st->dkim_in_block)
		return;
	while ((v = obj_iter_values(obj_lookup(reply, "dkim-signature"), &it)) != NULL) {
		if (obj_get_string(v) != NULL)
			st->err |= milter_reply_header_at(st->out, MILTER_R_INSHEADER, idx++,
			    "DKIM-Signature", obj_get_string(v));
	}
}

static void
reject(struct map_state *st, const char *text)
{
	const char *mode = st->reject_mode != NULL ? st->reject_mode : "";

	if (st->o->discard_on_reject || strcmp(mode, "discard") == 0) {
		st->err |= milter_reply_simple(st->out, MILTER_R_DISCARD);
	} else if (st->o->quarantine_on_reject || strcmp(mode, "quarantine") == 0) {
		st->err |= milter_reply_string(st->out, MILTER_R_QUARANTINE, text);
		st->err |= milter_reply_simple(st->out, MILTER_R_ACCEPT);
	} else {
		st->err |= milter_reply_code(st->out, REJECT_CODE, text);
	}
}

static void
verdict(struct map_state *st, const struct obj *reply, const char *action)
{
	const char *smtp = obj_get_string(obj_lookup_path(reply, "messages.smtp_message"));
	const char *subject = obj_get_string(obj_lookup(reply, "subject"));

	if (strcmp(action, "reject") == 0) {
		reject(st, smtp != NULL ? smtp : st->o->reject_message != NULL ?
		    st->o->reject_message : "Spam message rejected");
	} else if (strcmp(action, "soft reject") == 0 || strcmp(action, "greylist") == 0) {
		/* Both ask the sender to come back later (DESIGN.md section 6). */
		st->err |= milter_reply_code(st->out, TEMPFAIL_CODE, smtp != NULL ? smtp :
		    st->o->tempfail_message != NULL ? st->o->tempfail_message : "Try again later");
	} else if (strcmp(action, "rewrite subject") == 0 && subject != NULL) {
		st->err |= milter_reply_header_at(st->out, MILTER_R_CHGHEADER, 1, "Subject",
		    subject);
		st->err |= milter_reply_simple(st->out, MILTER_R_ACCEPT);
	} else if (strcmp(action, "add header") == 0) {
		mark_spam(st, spam_header_name(st), "Yes");
	} else if (strcmp(action, "quarantine") == 0) {
		st->err |= milter_reply_string(st->out, MILTER_R_QUARANTINE,
		    smtp != NULL ? smtp : "Spam message quarantined");
		st->err |= milter_reply_simple(st->out, MILTER_R_ACCEPT);
	} else if (strcmp(action, "discard") == 0) {
		st->err |= milter_reply_simple(st->out, MILTER_R_DISCARD);
	} else {
		/* no action, rewrite subject without a subject */
		st->err |= milter_reply_simple(st->out, MILTER_R_ACCEPT);
	}
}

static bool
known_action(const char *a)
{
	static const char *const names[] = { "reject", "soft reject", "rewrite subject",
		"add header", "greylist", "no action", "discard", "quarantine" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(a, names[i]) == 0)
			return true;
	}
	return false;
}

int
milter_map_reply(const struct obj *reply, const struct milter_map_opts *o,
    milter_header_count_fn *count, void *ud, struct buf *out)
{
	struct map_state st = { o, count, ud, out, 0, false, false, NULL };
	const char *action;
	const struct obj *m;
	bool no_action = false;

	if (reply == NULL)
		return milter_reply_simple(out, MILTER_R_TEMPFAIL);
	action = obj_get_string(obj_lookup(reply, "action"));
	m = obj_lookup(reply, "milter");
	if (action == NULL || !known_action(action))
		return milter_reply_simple(out, MILTER_R_TEMPFAIL);
	if (m != NULL && m->type == OBJ_OBJECT) {
		milter_block(&st, m);
		if (obj_get_bool(obj_lookup(m, "no_action"), &no_action) == 0 && no_action) {
			st.err |= milter_reply_addheader(out, "X-Rspamd-Action", action);
			st.err |= milter_reply_simple(out, MILTER_R_ACCEPT);
			return st.err ? -1 : 0;
		}
		if (strcmp(action, "add header") == 0 && block_spam_header(&st, m))
			return st.err ? -1 : 0;
	}
	dkim_signatures(&st, reply);
	verdict(&st, reply, action);
	return st.err ? -1 : 0;
}
