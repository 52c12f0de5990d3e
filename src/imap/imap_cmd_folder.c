/*
 * imap_cmd_folder.c - commands on folders as a whole: SELECT, EXAMINE,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (with RFC 6154
 * special-use and RFC 3348 child attributes), LSUB, STATUS, APPEND
 * (RFC 4315 APPENDUID) and the QUOTA commands (RFC 9208).
 *
 * Names arrive in modified UTF-7 and are handed to the store in UTF-8;
 * the store decides which names are valid (no "..", no absolute paths),
 * so no path is ever built here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/str.h"
#include "event/conn.h"
#include "imap/imap_internal.h"
#include "imap/imap_mutf7.h"
#include "log/log.h"
#include "store/mailbox.h"
#include "store/quota.h"

/* ----- SELECT / EXAMINE ----- */

static void
select_responses(struct imap_session *s, bool rdonly)
{
	struct mailbox_status st;
	struct buf b;

	mailbox_get_status(s->mb, &st);
	buf_init(&b, 0);
	buf_append_cstr(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (unsigned i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
		const char *kw = mailbox_keyword_name(s->mb, i);

		if (kw != NULL)
			buf_printf(&b, " %s", kw);
	}
	buf_append_cstr(&b, ")\r\n");
	if (rdonly)
		buf_append_cstr(&b, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		buf_append_cstr(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		    "\\Draft \\*)] Flags permitted\r\n");
	buf_printf(&b, "* %u EXISTS\r\n* %u RECENT\r\n", st.messages, st.recent);
	if (st.first_unseen != 0)
		buf_printf(&b, "* OK [UNSEEN %u] First unseen\r\n", st.first_unseen);
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n",
	    st.uidvalidity, st.uidnext);
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
}

static void
do_select(struct imap_session *s, const char *tag, const struct imap_arg *args, size_t n,
    bool rdonly)
{
	const char *name, *err;

	if (n != 1 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL) {
		imap_bad(s, tag, "SELECT needs a mailbox name");
		return;
	}
	imap_unselect(s);
	if (mailbox_open(s->root, name, rdonly ? MAILBOX_RDONLY : 0, &s->mb, &err) < 0) {
		s->mb = NULL;
		imap_no_errno(s, tag, errno, errno == ENOENT ? "No such mailbox" : err);
		return;
	}
	s->state = IMAP_STATE_SELECTED;
	select_responses(s, rdonly);
	imap_tagged(s, tag, "OK", "[%s] %s completed", rdonly ? "READ-ONLY" : "READ-WRITE",
	    rdonly ? "EXAMINE" : "SELECT");
}

void
imap_cmd_select(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_select(s, tag, args, n, false);
}

void
imap_cmd_examine(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_select(s, tag, args, n, true);
}

/* ----- CREATE / DELETE / RENAME / (UN)SUBSCRIBE ----- */

void
imap_cmd_create(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *name, *err;

	UNUSED(uid);
	if (n != 1 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL) {
		imap_bad(s, tag, "CREATE needs a valid mailbox name");
		return;
	}
	if (folders_create(s->root, name, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_tagged(s, tag, "OK", "CREATE completed");
}

void
imap_cmd_delete(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *name, *err;

	UNUSED(uid);
	if (n != 1 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL) {
		imap_bad(s, tag, "DELETE needs a mailbox name");
		return;
	}
	if (s->mb != NULL && strcmp(mailbox_name(s->mb), name) == 0)
		imap_unselect(s);
	if (folders_delete(s->root, name, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_tagged(s, tag, "OK", "DELETE completed");
}

void
imap_cmd_rename(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *from, *to, *err;

	UNUSED(uid);
	if (n != 2 || (from = imap_mailbox_arg(s, &args[0], &err)) == NULL ||
	    (to = imap_mailbox_arg(s, &args[1], &err)) == NULL) {
		imap_bad(s, tag, "RENAME needs two mailbox names");
		return;
	}
	if (folders_rename(s->root, from, to, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_tagged(s, tag, "OK", "RENAME completed");
}

static void
do_subscribe(struct imap_session *s, const char *tag, const struct imap_arg *args, size_t n,
    bool on)
{
	const char *name, *err;

	if (n != 1 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL) {
		imap_bad(s, tag, "a mailbox name is needed");
		return;
	}
	if (folders_subscribe(s->root, name, on, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_tagged(s, tag, "OK", "%s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

void
imap_cmd_subscribe(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_subscribe(s, tag, args, n, true);
}

void
imap_cmd_unsubscribe(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_subscribe(s, tag, args, n, false);
}

/* ----- LIST / LSUB ----- */

/* '*' matches anything, '%' anything but the separator (RFC 3501 6.3.8). */
static bool
pattern_match(const char *p, const char *name)
{
	for (; *p != '\0'; p++) {
		if (*p == '*' || *p == '%') {
			for (const char *t = name;; t++) {
				if (pattern_match(p + 1, t))
					return true;
				if (*t == '\0' || (*p == '%' && *t == MAILBOX_SEP))
					return false;
			}
		}
		if (*name != *p)
			return false;
		name++;
	}
	return *name == '\0';
}

struct list_ctx {
	struct imap_session *s;
	const char *pattern;   /* reference + pattern, modified UTF-7 */
	bool lsub;
	struct buf out;
};

static bool
list_matches(const struct list_ctx *lc, const char *utf8)
{
	struct buf m;
	const char *err;
	bool ok;

	buf_init(&m, 0);
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &m, &err) < 0) {
		buf_deinit(&m);
		return false;
	}
	buf_putc(&m, '\0');
	ok = pattern_match(lc->pattern, m.data);
	/* INBOX is case-insensitive: "inbox" and "Inbox/%" find it too. */
	if (!ok && (strcmp(utf8, "INBOX") == 0 || strncmp(utf8, "INBOX/", 6) == 0) &&
	    strncasecmp(lc->pattern, "INBOX", 5) == 0) {
		char *p = pool_strdup(lc->s->pool, lc->pattern);

		memcpy(p, "INBOX", 5);
		ok = pattern_match(p, m.data);
	}
	buf_deinit(&m);
	return ok;
}

static void
list_attrs(struct buf *b, unsigned attrs)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ FOLDER_NOSELECT, "\\Noselect" }, { FOLDER_HASCHILDREN, "\\HasChildren" },
		{ FOLDER_HASNOCHILDREN, "\\HasNoChildren" }, { FOLDER_SENT, "\\Sent" },
		{ FOLDER_DRAFTS, "\\Drafts" }, { FOLDER_JUNK, "\\Junk" },
		{ FOLDER_TRASH, "\\Trash" }, { FOLDER_ARCHIVE, "\\Archive" },
	};
	bool first = true;

	buf_putc(b, '(');
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if ((attrs & names[i].bit) == 0)
			continue;
		buf_printf(b, "%s%s", first ? "" : " ", names[i].name);
		first = false;
	}
	buf_putc(b, ')');
}

static int
list_cb(const char *name, unsigned attrs, void *ctx)
{
	struct list_ctx *lc = ctx;

	if (!list_matches(lc, name))
		return 0;
	buf_printf(&lc->out, "* %s ", lc->lsub ? "LSUB" : "LIST");
	list_attrs(&lc->out, lc->lsub ? 0 : attrs);
	buf_append_cstr(&lc->out, " \"/\" ");
	imap_mailbox_write(&lc->out, name);
	buf_append_cstr(&lc->out, "\r\n");
	return 0;
}

static int
lsub_cb(const char *name, void *ctx)
{
	return list_cb(name, 0, ctx);
}

static void
do_list(struct imap_session *s, const char *tag, const struct imap_arg *args, size_t n,
    bool lsub)
{
	const char *ref, *pat, *err = NULL;
	struct list_ctx lc;
	int rc;

	if (n != 2 || (ref = imap_arg_text(&args[0])) == NULL ||
	    (pat = imap_arg_text(&args[1])) == NULL) {
		imap_bad(s, tag, "LIST needs a reference and a pattern");
		return;
	}
	if (*pat == '\0') {
		if (!lsub)
			imap_send_cstr(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
		return;
	}
	memset(&lc, 0, sizeof(lc));
	lc.s = s;
	lc.lsub = lsub;
	lc.pattern = *pat == MAILBOX_SEP ? pool_strdup(s->pool, pat) :
	    pool_printf(s->pool, "%s%s", ref, pat);
	buf_init(&lc.out, 0);
	if (lsub)
		rc = folders_subscriptions(s->root, lsub_cb, &lc, &err);
	else
		rc = folders_list(s->root, list_cb, &lc, &err);
	if (rc < 0 && errno != ENOENT) {
		buf_deinit(&lc.out);
		imap_no_errno(s, tag, errno, err);
		return;
	}
	imap_send(s, lc.out.data, lc.out.len);
	buf_deinit(&lc.out);
	imap_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

void
imap_cmd_list(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_list(s, tag, args, n, false);
}

void
imap_cmd_lsub(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	UNUSED(uid);
	do_list(s, tag, args, n, true);
}

/* ----- STATUS ----- */

void
imap_cmd_status(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *name, *err;
	struct mailbox_status st;
	struct buf b;

	UNUSED(uid);
	if (n != 2 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL ||
	    args[1].type != IMAP_ARG_LIST || args[1].n_list == 0) {
		imap_bad(s, tag, "STATUS needs a mailbox and a list of items");
		return;
	}
	if (folders_status(s->root, name, &st, &err) < 0) {
		imap_no_errno(s, tag, errno, err);
		return;
	}
	buf_init(&b, 0);
	buf_append_cstr(&b, "* STATUS ");
	imap_mailbox_write(&b, name);
	buf_append_cstr(&b, " (");
	for (size_t i = 0; i < args[1].n_list; i++) {
		const struct imap_arg *it = &args[1].list[i];
		const char *sep = i > 0 ? " " : "";

		if (imap_arg_atom_is(it, "MESSAGES"))
			buf_printf(&b, "%sMESSAGES %u", sep, st.messages);
		else if (imap_arg_atom_is(it, "RECENT"))
			buf_printf(&b, "%sRECENT %u", sep, st.recent);
		else if (imap_arg_atom_is(it, "UIDNEXT"))
			buf_printf(&b, "%sUIDNEXT %u", sep, st.uidnext);
		else if (imap_arg_atom_is(it, "UIDVALIDITY"))
			buf_printf(&b, "%sUIDVALIDITY %u", sep, st.uidvalidity);
		else if (imap_arg_atom_is(it, "UNSEEN"))
			buf_printf(&b, "%sUNSEEN %u", sep, st.unseen);
		else {
			buf_deinit(&b);
			imap_bad(s, tag, "Unknown STATUS item");
			return;
		}
	}
	buf_append_cstr(&b, ")\r\n");
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
	imap_tagged(s, tag, "OK", "STATUS completed");
}

/* ----- APPEND ----- */

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"); -1 when malformed. */
static int
parse_date_time(const char *s, int64_t *t_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	char mon[4];
	int day, year, h, m, sec, zone, n = 0;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	while (*s == ' ')
		s++;
	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %5d%n", &day, mon, &year, &h, &m, &sec, &zone,
		&n) != 7 || s[n] != '\0')
		return -1;
	mon[3] = '\0';
	p = strstr(months, mon);
	if (p == NULL || (p - months) % 3 != 0 || day < 1 || day > 31 || h > 23 || m > 59 ||
	    sec > 60 || year < 1970)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = (int)(p - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*t_r = (int64_t)timegm(&tm) - (int64_t)((zone / 100) * 3600 + (zone % 100) * 60);
	return 0;
}

struct append_req {
	const char *name;
	unsigned flags;
	const char **keywords;
	size_t n_keywords;
	int64_t date;
	const struct imap_arg *msg;
};

static int
parse_append(struct imap_session *s, const struct imap_arg *args, size_t n,
    struct append_req *r, const char **err_r)
{
	size_t i = 1;

	memset(r, 0, sizeof(*r));
	if (n < 2 || n > 4 || (r->name = imap_mailbox_arg(s, &args[0], err_r)) == NULL)
		return -1;
	if (args[i].type == IMAP_ARG_LIST) {
		r->keywords = pool_calloc(s->pool, args[i].n_list + 1, sizeof(char *));
		for (size_t k = 0; k < args[i].n_list; k++) {
			int bit = imap_flag_bit(&args[i].list[k]);

			if (bit < 0)
				return (*err_r = "bad flag"), -1;
			if (bit == 0)
				r->keywords[r->n_keywords++] = args[i].list[k].str;
			r->flags |= (unsigned)bit;
		}
		i++;
	}
	if (i + 1 < n) {
		if (args[i].type != IMAP_ARG_STRING || parse_date_time(args[i].str, &r->date) < 0)
			return (*err_r = "bad date-time"), -1;
		i++;
	}
	if (i + 1 != n || args[i].type != IMAP_ARG_STRING)
		return (*err_r = "message literal expected"), -1;
	r->msg = &args[i];
	return 0;
}

static bool
over_quota(struct imap_session *s, size_t len)
{
	struct quota_usage usage;

	if (!s->has_quota || quota_usage_compute(s->root, &usage) < 0)
		return false;
	return quota_check(&usage, &s->quota, len) != QUOTA_OK;
}

void
imap_cmd_append(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	struct append_req r;
	const char *err = "bad arguments";
	uint32_t new_uid = 0, uidv = 0;

	UNUSED(uid);
	if (parse_append(s, args, n, &r, &err) < 0) {
		imap_bad(s, tag, err);
		return;
	}
	if (r.msg->len == 0) {
		imap_tagged(s, tag, "NO", "Empty message");
		return;
	}
	if (over_quota(s, r.msg->len)) {
		imap_tagged(s, tag, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	if (mailbox_append(s->root, r.name, r.msg->str, r.msg->len, r.flags,
		(const char *const *)r.keywords, r.n_keywords, r.date, &new_uid, &uidv, &err) < 0) {
		imap_no_errno(s, tag, errno, errno == ENOENT ? "[TRYCREATE] No such mailbox" : err);
		return;
	}
	if (s->mb != NULL && strcmp(mailbox_name(s->mb), r.name) == 0 &&
	    !imap_report_changes(s))
		return;
	imap_tagged(s, tag, "OK", "[APPENDUID %u %u] APPEND completed", uidv, new_uid);
}

/* ----- QUOTA ----- */

static void
send_quota(struct imap_session *s)
{
	struct quota_usage u;
	struct buf b;
	const char *sep = "";

	if (quota_usage_compute(s->root, &u) < 0)
		memset(&u, 0, sizeof(u));
	buf_init(&b, 0);
	buf_append_cstr(&b, "* QUOTA \"\" (");
	if (s->quota.storage != 0) {
		buf_printf(&b, "STORAGE %llu %llu", (unsigned long long)((u.storage + 1023) / 1024),
		    (unsigned long long)(s->quota.storage / 1024));
		sep = " ";
	}
	if (s->quota.messages != 0)
		buf_printf(&b, "%sMESSAGE %llu %llu", sep, (unsigned long long)u.messages,
		    (unsigned long long)s->quota.messages);
	buf_append_cstr(&b, ")\r\n");
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
}

void
imap_cmd_getquotaroot(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *name, *err;
	struct buf b;

	UNUSED(uid);
	if (n != 1 || (name = imap_mailbox_arg(s, &args[0], &err)) == NULL) {
		imap_bad(s, tag, "GETQUOTAROOT needs a mailbox name");
		return;
	}
	buf_init(&b, 0);
	buf_append_cstr(&b, "* QUOTAROOT ");
	imap_mailbox_write(&b, name);
	buf_append_cstr(&b, s->has_quota ? " \"\"\r\n" : "\r\n");
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
	if (s->has_quota)
		send_quota(s);
	imap_tagged(s, tag, "OK", "GETQUOTAROOT completed");
}

void
imap_cmd_getquota(struct imap_session *s, const char *tag, const struct imap_arg *args,
    size_t n, bool uid)
{
	const char *root;

	UNUSED(uid);
	if (n != 1 || (root = imap_arg_text(&args[0])) == NULL) {
		imap_bad(s, tag, "GETQUOTA needs a quota root");
		return;
	}
	if (*root != '\0' || !s->has_quota) {
		imap_tagged(s, tag, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	send_quota(s);
	imap_tagged(s, tag, "OK", "GETQUOTA completed");
}
