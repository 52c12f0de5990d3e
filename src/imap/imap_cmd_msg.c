/*
 * imap_cmd_msg.c - commands on the messages of the selected folder:
 * CHECK, CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315),
 * SEARCH, FETCH, STORE, COPY (COPYUID) and MOVE (RFC 6851), each also as
 * UID command.
 *
 * The item grammar and rendering of FETCH and the SEARCH program live in
 * imap_fetch.c and imap_search.c; this file resolves sequence sets
 * against the folder view, reads messages from the store and applies
 * \Seen. COPY and MOVE into Junk hand each message to the settings'
 * learn function as spam, MOVE out of Junk as ham (not into Trash unless
 * configured), the same learning /learnspam and /learnham do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/str.h"
#include "event/conn.h"
#include "imap/imap_fetch.h"
#include "imap/imap_internal.h"
#include "imap/imap_search.h"
#include "imap/imap_seqset.h"
#include "log/log.h"
#include "store/mailbox.h"
#include "store/maildir.h"

/* FETCH output collected before it is handed to the connection. */
#define IMAP_FETCH_FLUSH (64 * 1024)
/* Output queued on the connection at which a FETCH pauses until drained. */
#define IMAP_FETCH_HIGHWATER (256 * 1024)

/*
 * The seqs (ascending) a sequence set or UID set names in the view; BAD
 * text in *err_r for syntax errors and sequence numbers past the end.
 */
static int
resolve_set(struct imap_session *s, const struct imap_arg *a, bool uid, uint32_t **seqs_r,
    size_t *n_r, const char **err_r)
{
	uint32_t count = mailbox_count(s->mb), *seqs;
	struct mailbox_status st;
	struct imap_seqset set;
	size_t n = 0;

	mailbox_get_status(s->mb, &st);
	*err_r = "sequence set expected";
	if (a->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(s->pool, a->str, a->len, uid ? st.uidnext - 1 : count, &set, err_r) < 0)
		return -1;
	if (!uid && set.highest > count) {
		*err_r = "Invalid message sequence number";
		return -1;
	}
	seqs = pool_calloc(s->pool, (size_t)count + 1, sizeof(*seqs));
	for (size_t r = 0; r < set.n_ranges; r++) {
		uint32_t lo = set.ranges[r].lo, hi = set.ranges[r].hi;

		if (uid && mailbox_seq_range_by_uid(s->mb, lo, hi, &lo, &hi) != 1)
			continue;
		if (!uid && hi > count)
			hi = count;
		for (uint64_t q = lo; q <= hi && n < count; q++)
			seqs[n++] = (uint32_t)q;
	}
	*seqs_r = seqs;
	*n_r = n;
	return 0;
}

static void
expunge_cb(uint32_t seq, void *ctx)
{
	imap_sendf(ctx, "* %u EXPUNGE\r\n", seq);
}

/* ----- CHECK / CLOSE / UNSELECT / EXPUNGE ----- */

void
imap_cmd_check(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(n);
	UNUSED(uid);
	imap_tagged(s, tag, "OK", "CHECK completed");
}

void
imap_cmd_close(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *err;

	UNUSED(args);
	UNUSED(n);
	UNUSED(uid);
	if (!mailbox_is_readonly(s->mb) && mailbox_expunge(s->mb, NULL, 0, NULL, NULL, &err) < 0)
		log_warn("imap", s->id, "expunge at CLOSE failed: %s", err);
	imap_unselect(s);
	imap_tagged(s, tag, "OK", "CLOSE completed");
}

void
imap_cmd_unselect(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(args);
	UNUSED(n);
	UNUSED(uid);
	imap_unselect(s);
	imap_tagged(s, tag, "OK", "UNSELECT completed");
}

void
imap_cmd_expunge(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	uint32_t *seqs = NULL, *uids = NULL;
	size_t n_seqs = 0;
	const char *err;

	if (n != (uid ? 1u : 0u)) {
		imap_bad(s, tag, uid ? "UID EXPUNGE needs a UID set" : "EXPUNGE takes no arguments");
		return;
	}
	if (mailbox_is_readonly(s->mb)) {
		imap_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (uid) {
		if (resolve_set(s, &args[0], true, &seqs, &n_seqs, &err) < 0) {
			imap_bad(s, tag, err);
			return;
		}
		uids = pool_calloc(s->pool, n_seqs + 1, sizeof(*uids));
		for (size_t i = 0; i < n_seqs; i++)
			uids[i] = mailbox_msg(s->mb, seqs[i])->uid;
		if (n_seqs == 0) {
			imap_tagged(s, tag, "OK", "EXPUNGE completed");
			return;
		}
	}
	if (mailbox_expunge(s->mb, uids, n_seqs, expunge_cb, s, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_tagged(s, tag, "OK", "EXPUNGE completed");
}

/* ----- message data ----- */

/* Flag names of a message, pool-owned. */
static const char **
flag_names(struct imap_session *s, const struct mailbox_msg *m, size_t *n_r)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {
		{ MAIL_SEEN, "\\Seen" }, { MAIL_ANSWERED, "\\Answered" },
		{ MAIL_FLAGGED, "\\Flagged" }, { MAIL_DELETED, "\\Deleted" },
		{ MAIL_DRAFT, "\\Draft" }, { MAIL_RECENT, "\\Recent" },
	};
	const char **names = pool_calloc(s->pool, ARRAY_SIZE(sys) + MAILBOX_KEYWORDS_MAX + 1,
	    sizeof(*names));
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		if ((m->flags & sys[i].bit) != 0)
			names[n++] = sys[i].name;
	}
	for (unsigned i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
		const char *kw = (m->keywords & (1u << i)) != 0 ? mailbox_keyword_name(s->mb, i) : NULL;

		if (kw != NULL)
			names[n++] = pool_strdup(s->pool, kw);
	}
	*n_r = n;
	return names;
}

/* The message as served: CRLF line ends (files from other programs may
 * have bare LF). Heap; 0 or -1 (expunged meanwhile, I/O). */
static int
read_message(struct imap_session *s, uint32_t seq, char **data_r, size_t *len_r)
{
	const char *err;
	char *data, *out;
	size_t len, bare = 0, k = 0;

	if (mailbox_read(s->mb, seq, &data, &len, &err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		bare += data[i] == '\n' && (i == 0 || data[i - 1] != '\r');
	if (bare == 0) {
		*data_r = data;
		*len_r = len;
		return 0;
	}
	out = malloc(len + bare + 1);
	if (out == NULL) {
		free(data);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = data[i];
	}
	out[k] = '\0';
	free(data);
	*data_r = out;
	*len_r = k;
	return 0;
}

static int
tz_minutes(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* ----- FETCH ----- */

/* The structures the store caches, so a client's ENVELOPE/BODYSTRUCTURE
 * sweep over a folder reads each message once, not at every login. */
static const struct {
	unsigned item;
	const char *key;
} fetch_cached[] = {
	{ IMAP_FETCH_ENVELOPE, "envelope" },
	{ IMAP_FETCH_BODYSTRUCTURE, "bodystructure" },
	{ IMAP_FETCH_BODY, "body" },
};

static const char **
cached_slot(struct imap_fetch_msg *fm, size_t i)
{
	return i == 0 ? &fm->envelope : i == 1 ? &fm->bodystructure : &fm->body;
}

/* Fills what the cache has; true when the message must still be read. */
static bool
cache_lookup(struct imap_session *s, const struct imap_fetch_items *items, uint32_t seq,
    struct imap_fetch_msg *fm)
{
	bool need = items->n_bodies > 0 || (items->items & (IMAP_FETCH_RFC822 |
	    IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT)) != 0;

	for (size_t i = 0; i < ARRAY_SIZE(fetch_cached); i++) {
		const char *data;
		size_t len;

		if ((items->items & fetch_cached[i].item) == 0)
			continue;
		if (mailbox_cache_get(s->mb, seq, fetch_cached[i].key, &data, &len) == 1)
			*cached_slot(fm, i) = pool_strndup(s->pool, data, len);
		else
			need = true;
	}
	return need;
}

/* Renders and stores what the cache lacked. */
static void
cache_fill(struct imap_session *s, const struct imap_fetch_items *items, uint32_t seq,
    struct imap_fetch_msg *fm)
{
	for (size_t i = 0; i < ARRAY_SIZE(fetch_cached); i++) {
		char *text;

		if ((items->items & fetch_cached[i].item) == 0 || *cached_slot(fm, i) != NULL)
			continue;
		text = i == 0 ? imap_envelope_render(fm->data, fm->len) :
		    imap_bodystructure_render(fm->data, fm->len, i == 1);
		if (text == NULL)
			continue;
		(void)mailbox_cache_put(s->mb, seq, fetch_cached[i].key, text, strlen(text));
		*cached_slot(fm, i) = pool_strdup(s->pool, text);
		free(text);
	}
}

static int
fetch_one(struct imap_session *s, const struct imap_fetch_items *items, uint32_t seq,
    struct buf *out)
{
	const struct mailbox_msg *m = mailbox_msg(s->mb, seq);
	struct imap_fetch_msg fm;
	const char *err;
	char *data = NULL;
	size_t len = 0;
	int rc;

	memset(&fm, 0, sizeof(fm));
	if (items->sets_seen && !mailbox_is_readonly(s->mb) && (m->flags & MAIL_SEEN) == 0) {
		if (mailbox_set_flags(s->mb, &seq, 1, MAILBOX_FLAGS_ADD, MAIL_SEEN, 0, 0, NULL,
			NULL, NULL, &err) == 0)
			fm.include_flags = true;
		m = mailbox_msg(s->mb, seq);
	}
	if (items->needs_content && cache_lookup(s, items, seq, &fm) &&
	    read_message(s, seq, &data, &len) < 0)
		return 0; /* expunged by another session meanwhile */
	fm.data = data;
	fm.len = len;
	if (data != NULL)
		cache_fill(s, items, seq, &fm);
	m = mailbox_msg(s->mb, seq); /* the cache calls may have moved it */
	if (m == NULL) {
		free(data);
		return 0;
	}
	fm.seq = seq;
	fm.uid = m->uid;
	fm.flags = flag_names(s, m, &fm.n_flags);
	fm.internal_date = (time_t)m->internal_date;
	fm.tz_minutes = tz_minutes(fm.internal_date);
	fm.size = m->vsize;
	rc = imap_fetch_render(items, &fm, out, &err);
	if (rc < 0)
		log_warn("imap", s->id, "FETCH %u failed: %s", seq, err);
	free(data);
	return rc;
}

/*
 * A FETCH in progress. Messages are rendered while the connection has
 * less than IMAP_FETCH_HIGHWATER queued; past that the command pauses
 * (no further input is processed) and goes on at CONN_EV_DRAINED, so
 * "FETCH 1:* BODY[]" on a big folder holds about one window of output,
 * not the folder. Lives in the command pool, which stays until the next
 * command, and that waits for this one.
 */
struct imap_fetch_job {
	const char *tag;
	struct imap_fetch_items items;
	uint32_t *seqs;
	size_t n, next;
	bool failed;
};

bool
imap_fetch_resume(struct imap_session *s)
{
	struct imap_fetch_job *j = s->fetch;

	for (;;) {
		if (s->out.len >= IMAP_FETCH_FLUSH) {
			imap_flush(s);
			if (s->conn != NULL && conn_output_pending(s->conn) >= IMAP_FETCH_HIGHWATER)
				return false;
		}
		if (j->next == j->n)
			break;
		if (fetch_one(s, &j->items, j->seqs[j->next++], &s->out) < 0)
			j->failed = true;
	}
	s->fetch = NULL;
	if (j->failed)
		imap_tagged(s, j->tag, "NO", "Some messages could not be fetched");
	else
		imap_tagged(s, j->tag, "OK", "FETCH completed");
	return true;
}

void
imap_cmd_fetch(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	struct imap_fetch_job *j = pool_alloc(s->pool, sizeof(*j));
	const char *err;

	if (n != 2 || resolve_set(s, &args[0], uid, &j->seqs, &j->n, &err) < 0 ||
	    imap_fetch_parse(s->pool, &args[1], uid, &j->items, &err) < 0) {
		imap_bad(s, tag, n != 2 ? "FETCH needs a set and items" : err);
		return;
	}
	j->tag = pool_strdup(s->pool, tag);
	s->fetch = j;
	(void)imap_fetch_resume(s);
}

/* ----- SEARCH ----- */

struct search_load {
	struct imap_session *s;
	uint32_t seq;
	char *data;
};

static int
search_load(void *ctx, const char **data_r, size_t *len_r)
{
	struct search_load *l = ctx;
	size_t len;

	if (read_message(l->s, l->seq, &l->data, &len) < 0)
		return -1;
	*data_r = l->data;
	*len_r = len;
	return 0;
}

void
imap_cmd_search(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	struct mailbox_status st;
	struct imap_search_key *prog;
	const char *err;
	struct buf out;
	uint32_t count = mailbox_count(s->mb);
	bool failed = false;

	mailbox_get_status(s->mb, &st);
	if (imap_search_parse(s->pool, args, n, count, st.uidnext - 1, &prog, &err) < 0) {
		if (strncmp(err, IMAP_SEARCH_BADCHARSET, strlen(IMAP_SEARCH_BADCHARSET)) == 0)
			imap_tagged(s, tag, "NO", "%s", err);
		else
			imap_bad(s, tag, err);
		return;
	}
	buf_init(&out, 0);
	buf_append_cstr(&out, "* SEARCH");
	for (uint32_t seq = 1; seq <= count; seq++) {
		const struct mailbox_msg *m = mailbox_msg(s->mb, seq);
		struct search_load l = { s, seq, NULL };
		struct imap_search_msg sm;
		int rc;

		memset(&sm, 0, sizeof(sm));
		sm.seq = seq;
		sm.uid = m->uid;
		sm.flags = flag_names(s, m, &sm.n_flags);
		sm.internal_date = (time_t)m->internal_date;
		sm.tz_minutes = tz_minutes(sm.internal_date);
		sm.size = m->vsize;
		sm.load = search_load;
		sm.load_ctx = &l;
		rc = imap_search_match(prog, &sm);
		imap_search_msg_clear(&sm);
		free(l.data);
		if (rc < 0)
			failed = true;
		else if (rc == 1)
			buf_printf(&out, " %u", uid ? m->uid : seq);
	}
	buf_append_cstr(&out, "\r\n");
	imap_send(s, out.data, out.len);
	buf_deinit(&out);
	if (failed)
		imap_tagged(s, tag, "NO", "Some messages could not be searched");
	else
		imap_tagged(s, tag, "OK", "SEARCH completed");
}

/* ----- STORE ----- */

struct store_req {
	enum mailbox_flag_op op;
	bool silent;
	unsigned flags;
	uint32_t keywords;
};

static int
parse_store(struct imap_session *s, const struct imap_arg *args, size_t n,
    struct store_req *r, const char **err_r)
{
	const struct imap_arg *list = &args[1];
	size_t n_list = n - 1;
	const char *item = imap_arg_text(&args[0]);

	memset(r, 0, sizeof(*r));
	*err_r = "STORE needs an item and flags";
	if (n < 2 || args[0].type != IMAP_ARG_ATOM)
		return -1;
	r->op = *item == '+' ? MAILBOX_FLAGS_ADD : *item == '-' ? MAILBOX_FLAGS_REMOVE :
	    MAILBOX_FLAGS_SET;
	item += *item == '+' || *item == '-';
	if (strcasecmp(item, "FLAGS.SILENT") == 0)
		r->silent = true;
	else if (strcasecmp(item, "FLAGS") != 0)
		return (*err_r = "unknown STORE item"), -1;
	if (n == 2 && args[1].type == IMAP_ARG_LIST) {
		list = args[1].list;
		n_list = args[1].n_list;
	}
	for (size_t i = 0; i < n_list; i++) {
		int bit = imap_flag_bit(&list[i]);

		if (bit < 0) {
			/* \Recent may not be stored; RFC 3501 lets us ignore it. */
			if (imap_arg_atom_is(&list[i], "\\Recent"))
				continue;
			return (*err_r = "bad flag"), -1;
		}
		if (bit == 0) {
			int k = mailbox_keyword_index(s->mb, list[i].str, r->op != MAILBOX_FLAGS_REMOVE);

			if (k < 0 && r->op != MAILBOX_FLAGS_REMOVE)
				return (*err_r = "too many keywords"), -1;
			if (k >= 0)
				r->keywords |= 1u << k;
		}
		r->flags |= (unsigned)bit;
	}
	return 0;
}

void
imap_cmd_store(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	struct store_req r;
	uint32_t *seqs;
	size_t n_seqs;
	const char *err;
	struct buf out;

	if (n < 3 || resolve_set(s, &args[0], uid, &seqs, &n_seqs, &err) < 0 ||
	    parse_store(s, args + 1, n - 1, &r, &err) < 0) {
		imap_bad(s, tag, n < 3 ? "STORE needs a set, an item and flags" : err);
		return;
	}
	if (mailbox_is_readonly(s->mb)) {
		imap_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (n_seqs > 0 && mailbox_set_flags(s->mb, seqs, n_seqs, r.op, r.flags, r.keywords, 0,
		NULL, NULL, NULL, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	buf_init(&out, 0);
	for (size_t i = 0; i < n_seqs && !r.silent; i++) {
		const struct mailbox_msg *m = mailbox_msg(s->mb, seqs[i]);

		if (m == NULL)
			continue;
		buf_printf(&out, "* %u FETCH (", seqs[i]);
		if (uid)
			buf_printf(&out, "UID %u ", m->uid);
		buf_append_cstr(&out, "FLAGS (");
		imap_flags_append(s, &out, m->flags, m->keywords);
		buf_append_cstr(&out, "))\r\n");
	}
	imap_send(s, out.data, out.len);
	buf_deinit(&out);
	imap_tagged(s, tag, "OK", "STORE completed");
}

/* ----- COPY / MOVE ----- */

static void
learn_messages(struct imap_session *s, const uint32_t *seqs, size_t n, bool spam)
{
	for (size_t i = 0; i < n; i++) {
		char *data;
		size_t len;

		if (read_message(s, seqs[i], &data, &len) < 0)
			continue;
		s->set->learn(data, len, spam, s->user);
		free(data);
	}
	log_info("imap", s->id, "user=<%s> learnt %zu message(s) as %s", s->user, n,
	    spam ? "spam" : "ham");
}

/* Spam into Junk (copy or move), ham out of Junk (move only). */
static void
maybe_learn(struct imap_session *s, const char *dest, const uint32_t *seqs, size_t n, bool move)
{
	bool from_junk = strcmp(mailbox_name(s->mb), MAILDIR_FOLDER_JUNK) == 0;
	bool to_junk = strcmp(dest, MAILDIR_FOLDER_JUNK) == 0;

	if (s->set->learn == NULL || n == 0 || from_junk == to_junk)
		return;
	if (to_junk)
		learn_messages(s, seqs, n, true);
	else if (move && (s->set->learn_ham_into_trash || strcmp(dest, "Trash") != 0))
		learn_messages(s, seqs, n, false);
}

static void
uid_list(struct buf *b, const uint32_t *uids, size_t n)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (uids[i] == 0)
			continue;
		buf_printf(b, "%s%u", first ? "" : ",", uids[i]);
		first = false;
	}
}

/* "COPYUID <validity> <src> <dst>" for the messages that were copied. */
static char *
copyuid_text(struct imap_session *s, const uint32_t *new_uids, const uint32_t *old_uids,
    size_t n, uint32_t uidv)
{
	uint32_t *src = pool_calloc(s->pool, n + 1, sizeof(*src));
	struct buf b;
	char *out;

	for (size_t i = 0; i < n; i++)
		src[i] = new_uids[i] != 0 ? old_uids[i] : 0;
	buf_init(&b, 0);
	buf_printf(&b, "COPYUID %u ", uidv);
	uid_list(&b, src, n);
	buf_putc(&b, ' ');
	uid_list(&b, new_uids, n);
	out = pool_strdup(s->pool, b.data);
	buf_deinit(&b);
	return out;
}

static void
move_expunge_cb(uint32_t seq, void *ctx)
{
	buf_printf(ctx, "* %u EXPUNGE\r\n", seq);
}

static void
do_copy(struct imap_session *s, const char *tag, const struct imap_arg *args, size_t n,
    bool uid, bool move)
{
	uint32_t *seqs, *new_uids, *old_uids, uidv = 0;
	size_t n_seqs;
	const char *dest, *err;
	struct mailbox_status st;
	int rc;

	if (n != 2 || resolve_set(s, &args[0], uid, &seqs, &n_seqs, &err) < 0 ||
	    (dest = imap_mailbox_arg(s, &args[1], &err)) == NULL) {
		imap_bad(s, tag, n != 2 ? "a set and a mailbox are needed" : err);
		return;
	}
	if (move && mailbox_is_readonly(s->mb)) {
		imap_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (folders_status(s->root, dest, &st, &err) < 0) {
		imap_no_errno(s, tag, errno, errno == ENOENT ? "[TRYCREATE] No such mailbox" : err);
		return;
	}
	if (n_seqs == 0) {
		imap_tagged(s, tag, "OK", "Nothing to %s", move ? "move" : "copy");
		return;
	}
	new_uids = pool_calloc(s->pool, n_seqs, sizeof(*new_uids));
	old_uids = pool_calloc(s->pool, n_seqs, sizeof(*old_uids));
	for (size_t i = 0; i < n_seqs; i++)
		old_uids[i] = mailbox_msg(s->mb, seqs[i])->uid;
	maybe_learn(s, dest, seqs, n_seqs, move);
	if (move) {
		/* COPYUID goes out before the EXPUNGEs (RFC 6851 4.3): collect them. */
		struct buf ex;

		buf_init(&ex, 0);
		rc = mailbox_move(s->mb, seqs, n_seqs, dest, new_uids, &uidv, move_expunge_cb, &ex,
		    &err);
		if (rc == 0)
			imap_sendf(s, "* OK [%s] Moved\r\n", copyuid_text(s, new_uids, old_uids,
			    n_seqs, uidv));
		imap_send(s, ex.data, ex.len);
		buf_deinit(&ex);
	} else {
		rc = mailbox_copy(s->mb, seqs, n_seqs, dest, new_uids, &uidv, &err);
	}
	if (rc < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	if (move)
		imap_tagged(s, tag, "OK", "MOVE completed");
	else
		imap_tagged(s, tag, "OK", "[%s] COPY completed",
		    copyuid_text(s, new_uids, old_uids, n_seqs, uidv));
}

void
imap_cmd_copy(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	do_copy(s, tag, args, n, uid, false);
}

void
imap_cmd_move(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	do_copy(s, tag, args, n, uid, true);
}
