/*
 * milter_session.c - state of one MTA connection speaking milter.
 *
 * Connection data (CONNECT, HELO, connect/helo macros) lives until QUIT or
 * QUIT_NC; message data (MAIL, RCPT, headers, body, per-message macros)
 * until end-of-message or ABORT, so one connection carries any number of
 * messages. Like Rspamd we claim the NR_* protocol bits, so the MTA
 * expects no reply to anything but option negotiation and end-of-message;
 * bits the MTA did not offer are answered with CONTINUE instead.
 *
 * Strings are kept in two pools (connection and message) so resetting a
 * message is one pool_free.
 */
#include "milter/milter_session.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "http/http_parser.h"
#include "log/log.h"
#include "milter/milter_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_CAP ((size_t)4 * 1024 * 1024)
#define MAX_RCPTS 1024
#define MAX_MSG_HEADERS 10000

struct kv_list {
	struct http_header *v;
	size_t n, cap;
};

struct milter_session {
	struct ev_loop *loop;
	struct conn *conn;
	struct milter_settings set;
	milter_scan_fn *scan;
	milter_closed_fn *closed;
	void *ud;
	struct milter_decoder dec;
	uint32_t protocol;     /* negotiated SMFIP_* bits */
	bool negotiated;
	bool scanning;
	bool ending;           /* close once the current scan is answered */
	bool oversized;        /* the message went past max_message */
	bool in_input;         /* inside session_input(): no re-entry */
	struct pool *cpool, *mpool;
	struct kv_list cmacros, mmacros; /* connection / message macros */
	const char *hostname, *addr, *helo, *from;
	struct kv_list rcpts;
	const char **hnames;   /* header names in order, for CHGHEADER indexes */
	size_t n_hnames, cap_hnames;
	struct buf msg;
	struct buf out;
	char id[12];
};

static void session_input(struct milter_session *s);

static void
kv_add(struct kv_list *l, struct pool *pool, struct str name, struct str value)
{
	if (l->n == l->cap) {
		l->cap = l->cap * 2 + 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].name = str_make(pool_strndup(pool, name.ptr, name.len), name.len);
	l->v[l->n].value = str_make(pool_strndup(pool, value.ptr, value.len), value.len);
	if (l->v[l->n].name.ptr != NULL && l->v[l->n].value.ptr != NULL)
		l->n++;
}

/* Last value wins; "{i}" and "i" are the same macro. */
static const char *
kv_find(const struct kv_list *l, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = l->n; i-- > 0;) {
		struct str k = l->v[i].name;

		if (k.len >= 2 && k.ptr[0] == '{' && k.ptr[k.len - 1] == '}')
			k = str_slice(k, 1, k.len - 2);
		if (k.len == nl && strncasecmp(k.ptr, name, nl) == 0)
			return l->v[i].value.ptr;
	}
	return NULL;
}

static const char *
macro(const struct milter_session *s, const char *name)
{
	const char *v = kv_find(&s->mmacros, name);

	return v != NULL ? v : kv_find(&s->cmacros, name);
}

static void
reset_message(struct milter_session *s)
{
	pool_free(&s->mpool);
	s->mpool = pool_new(POOL_CAP);
	s->mmacros.n = 0;
	s->rcpts.n = 0;
	s->from = NULL;
	s->n_hnames = 0;
	s->oversized = false;
	buf_reset(&s->msg);
}

static void
reset_connection(struct milter_session *s)
{
	reset_message(s);
	pool_free(&s->cpool);
	s->cpool = pool_new(POOL_CAP);
	s->cmacros.n = 0;
	s->hostname = s->addr = s->helo = NULL;
}

static void
session_free(struct milter_session *s)
{
	milter_closed_fn *closed = s->closed;
	void *ud = s->ud;

	conn_free(&s->conn);
	pool_free(&s->cpool);
	pool_free(&s->mpool);
	free(s->cmacros.v);
	free(s->mmacros.v);
	free(s->rcpts.v);
	free(s->hnames);
	buf_deinit(&s->msg);
	buf_deinit(&s->out);
	if (closed != NULL)
		closed(s, ud);
	free(s);
}

/* Sends what is in s->out. */
static int
flush(struct milter_session *s)
{
	int r = 0;

	if (s->out.len > 0)
		r = conn_write(s->conn, s->out.data, s->out.len);
	buf_reset(&s->out);
	return r;
}

static void
append_msg(struct milter_session *s, const void *data, size_t len)
{
	if (s->oversized)
		return;
	if (buf_append(&s->msg, data, len) < 0) {
		s->oversized = true;
		log_warn("milter", s->id, "message larger than %zu bytes: accepted unscanned",
		    s->set.max_message);
	}
}

static void
on_header(struct milter_session *s, const struct milter_cmd *c)
{
	if (s->n_hnames < MAX_MSG_HEADERS) {
		if (s->n_hnames == s->cap_hnames) {
			s->cap_hnames = s->cap_hnames * 2 + 16;
			s->hnames = xrealloc(s->hnames, s->cap_hnames * sizeof(*s->hnames));
		}
		s->hnames[s->n_hnames] = pool_strndup(s->mpool, c->str1.ptr, c->str1.len);
		if (s->hnames[s->n_hnames] != NULL)
			s->n_hnames++;
	}
	append_msg(s, c->str1.ptr, c->str1.len);
	append_msg(s, ": ", 2);
	append_msg(s, c->str2.ptr, c->str2.len);
	append_msg(s, "\r\n", 2);
}

static void
on_macro(struct milter_session *s, const struct milter_cmd *c)
{
	struct kv_list *l = c->macro_for == 'C' || c->macro_for == 'H' ? &s->cmacros : &s->mmacros;
	struct pool *pool = l == &s->cmacros ? s->cpool : s->mpool;
	struct str rest = c->rest, name, value;

	while (milter_next_string(&rest, &name) == 1) {
		if (milter_next_string(&rest, &value) != 1)
			break;
		kv_add(l, pool, name, value);
	}
}

static void
on_connect(struct milter_session *s, const struct milter_cmd *c)
{
	struct str addr = c->str2;

	reset_connection(s);
	if (c->str1.len > 0 && !str_case_eq_cstr(c->str1, "unknown"))
		s->hostname = str_dup_cstr(s->cpool, c->str1);
	if (c->family == '4' || c->family == '6') {
		if (str_has_prefix_case(addr, "IPv6:"))
			addr = str_slice(addr, 5, addr.len - 5);
		s->addr = str_dup_cstr(s->cpool, addr);
	}
}

static void
on_optneg(struct milter_session *s, const struct milter_cmd *c)
{
	if (c->version < MILTER_VERSION) {
		log_info("milter", s->id, "MTA offers milter version %u < 6, closing",
		    (unsigned)c->version);
		conn_close_after_drain(s->conn);
		return;
	}
	s->protocol = MILTER_OUR_PROTOCOL & c->protocol;
	s->negotiated = true;
	milter_reply_optneg(&s->out, MILTER_VERSION, c->actions | MILTER_OUR_ACTIONS,
	    s->protocol);
}

/* CONTINUE unless the MTA agreed that we do not answer this command. */
static void
maybe_continue(struct milter_session *s, uint32_t nr_bit)
{
	if ((s->protocol & nr_bit) == 0)
		milter_reply_simple(&s->out, MILTER_R_CONTINUE);
}

static void
env_add(struct milter_session *s, struct kv_list *l, const char *name, const char *value)
{
	if (value != NULL && *value != '\0')
		kv_add(l, s->mpool, str_from_cstr(name), str_from_cstr(value));
}

/* The envelope as the scan protocol headers Rspamd's proxy sends. */
static void
build_envelope(struct milter_session *s, struct kv_list *env)
{
	const char *host = s->hostname;
	const char *mta = macro(s, "daemon_name");

	if (host == NULL) {
		host = macro(s, "client_name");
		if (host != NULL && strcasecmp(host, "unknown") == 0)
			host = NULL;
	}
	env_add(s, env, "IP", s->addr);
	env_add(s, env, "Hostname", host);
	env_add(s, env, "Helo", s->helo);
	if (s->from != NULL)
		kv_add(env, s->mpool, STR_LIT("From"), str_from_cstr(s->from));
	for (size_t i = 0; i < s->rcpts.n; i++)
		kv_add(env, s->mpool, STR_LIT("Rcpt"), s->rcpts.v[i].value);
	env_add(s, env, "Queue-Id", macro(s, "i"));
	env_add(s, env, "User", macro(s, "auth_authen"));
	env_add(s, env, "MTA-Name", mta != NULL ? mta : macro(s, "j"));
	env_add(s, env, "User-Agent", macro(s, "v"));
	env_add(s, env, "TLS-Cipher", macro(s, "cipher"));
	env_add(s, env, "TLS-Version", macro(s, "tls_version"));
	env_add(s, env, "Mailer", macro(s, "rcpt_mailer"));
	env_add(s, env, "Flags", "milter");
}

static void
on_eom(struct milter_session *s, const struct milter_cmd *c)
{
	struct kv_list env = { NULL, 0, 0 };
	struct milter_scan_request req;
	const char *qid = macro(s, "i");

	append_msg(s, c->payload.ptr, c->payload.len);
	if (s->oversized) {
		milter_reply_simple(&s->out, MILTER_R_ACCEPT);
		reset_message(s);
		return;
	}
	build_envelope(s, &env);
	req.data = s->msg.data != NULL ? s->msg.data : "";
	req.len = s->msg.len;
	req.headers = env.v;
	req.n_headers = env.n;
	req.log_id = qid != NULL ? qid : s->id;
	s->scanning = true;
	conn_pause_read(s->conn);
	flush(s);
	s->scan(s, &req, s->ud);
	free(env.v);
}

static void
on_mail_rcpt(struct milter_session *s, const struct milter_cmd *c)
{
	if (c->code == MILTER_CMD_MAIL) {
		/* no reset here: this message's macros came just before */
		s->from = str_dup_cstr(s->mpool, c->str1);
		maybe_continue(s, MILTER_P_NR_MAIL);
		return;
	}
	if (s->rcpts.n < MAX_RCPTS)
		kv_add(&s->rcpts, s->mpool, STR_LIT("Rcpt"), c->str1);
	maybe_continue(s, MILTER_P_NR_RCPT);
}

/* Envelope commands (connection, HELO, MAIL, RCPT, macros). */
static void
dispatch_envelope(struct milter_session *s, const struct milter_cmd *c)
{
	switch (c->code) {
	case MILTER_CMD_MACRO:
		on_macro(s, c);
		break;
	case MILTER_CMD_CONNECT:
		on_connect(s, c);
		maybe_continue(s, MILTER_P_NR_CONN);
		break;
	case MILTER_CMD_HELO:
		s->helo = str_dup_cstr(s->cpool, c->str1);
		maybe_continue(s, MILTER_P_NR_HELO);
		break;
	case MILTER_CMD_MAIL:
	case MILTER_CMD_RCPT:
		on_mail_rcpt(s, c);
		break;
	case MILTER_CMD_UNKNOWN:
		maybe_continue(s, MILTER_P_NR_UNKN);
		break;
	default:
		break;
	}
}

/* One command; returns false when processing must stop (closing). */
static bool
dispatch(struct milter_session *s, const struct milter_cmd *c)
{
	switch (c->code) {
	case MILTER_CMD_PING:
		milter_reply_pong(&s->out);
		flush(s);
		conn_close_after_drain(s->conn);
		return false;
	case MILTER_CMD_OPTNEG:
		on_optneg(s, c);
		return s->negotiated;
	case MILTER_CMD_DATA:
		maybe_continue(s, MILTER_P_NR_DATA);
		return true;
	case MILTER_CMD_HEADER:
		on_header(s, c);
		maybe_continue(s, MILTER_P_NR_HDR);
		return true;
	case MILTER_CMD_EOH:
		append_msg(s, "\r\n", 2);
		maybe_continue(s, MILTER_P_NR_EOH);
		return true;
	case MILTER_CMD_BODY:
		append_msg(s, c->payload.ptr, c->payload.len);
		maybe_continue(s, MILTER_P_NR_BODY);
		return true;
	case MILTER_CMD_BODYEOB:
		/* the loop stops while the scan runs (it may finish at once) */
		on_eom(s, c);
		return true;
	case MILTER_CMD_ABORT:
		reset_message(s);
		return true;
	case MILTER_CMD_QUIT:
		flush(s);
		conn_close_after_drain(s->conn);
		return false;
	case MILTER_CMD_QUIT_NC:
		reset_connection(s);
		return true;
	default:
		dispatch_envelope(s, c);
		return true;
	}
}

static void
session_input(struct milter_session *s)
{
	struct buf *in = conn_input(s->conn);
	struct milter_cmd c;
	const char *err = NULL;
	size_t used = 0;
	int r;

	s->in_input = true;
	while (!s->scanning && !s->ending) {
		r = milter_decode(&s->dec, in->data, in->len, &c, &used, &err);
		if (r == 0)
			break;
		if (r < 0) {
			log_info("milter", s->id, "protocol error from %s: %s, closing",
			    conn_peer_text(s->conn), err);
			s->ending = true;
			conn_close_after_drain(s->conn);
			break;
		}
		if (!dispatch(s, &c) && !s->scanning)
			s->ending = true;
		buf_consume(in, used);
	}
	s->in_input = false;
	if (flush(s) < 0) {
		s->ending = true;
		conn_close_after_drain(s->conn);
	}
	if (!s->scanning && !s->ending)
		conn_resume_read(s->conn);
}

static void
on_conn(struct conn *c, enum conn_event ev, void *ud)
{
	struct milter_session *s = ud;

	UNUSED(c);
	switch (ev) {
	case CONN_EV_DATA_IN:
		session_input(s);
		return;
	case CONN_EV_DRAINED:
		return;
	case CONN_EV_CLOSED:
		if (conn_output_pending(s->conn) > 0 && !s->ending) {
			/* half-close: the MTA still reads our verdict */
			s->ending = true;
			conn_close_after_drain(s->conn);
			return;
		}
		break;
	case CONN_EV_TIMEOUT:
	case CONN_EV_ERROR:
		break;
	case CONN_EV_TLS_READY: /* milter has no TLS */
		return;
	}
	if (s->scanning) {
		/* the scan still uses our message buffer: end when it answers */
		s->ending = true;
		conn_free(&s->conn);
		return;
	}
	session_free(s);
}

static size_t
count_headers(const char *name, void *ud)
{
	const struct milter_session *s = ud;
	size_t n = 0;

	if (name == NULL)
		return s->n_hnames;
	for (size_t i = 0; i < s->n_hnames; i++)
		n += strcasecmp(s->hnames[i], name) == 0;
	return n;
}

void
milter_session_scan_done(struct milter_session *s, const struct obj *reply)
{
	s->scanning = false;
	if (s->conn == NULL) {
		session_free(s);
		return;
	}
	if (milter_map_reply(reply, &s->set.map, count_headers, s, &s->out) < 0)
		log_warn("milter", s->id, "reply too large for the output buffer");
	reset_message(s);
	if (s->in_input)
		return; /* answered synchronously: the input loop goes on */
	if (s->ending) {
		flush(s);
		conn_close_after_drain(s->conn);
		return;
	}
	session_input(s);
}

void
milter_session_shutdown(struct milter_session *s)
{
	if (s->scanning) {
		s->ending = true;
		return;
	}
	if (!s->ending) {
		s->ending = true;
		conn_close_after_drain(s->conn);
	}
}

struct milter_session *
milter_session_new(struct ev_loop *loop, int fd, const struct milter_settings *set,
    milter_scan_fn *scan, milter_closed_fn *closed, void *ud)
{
	static unsigned seq;
	struct milter_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings cs;
	double t = set->timeout > 0 ? set->timeout : 120.0;

	memset(&cs, 0, sizeof(cs));
	cs.max_input = (size_t)MILTER_MAX_PACKET * 2 + 64;
	cs.read_timeout = t;
	cs.write_timeout = t;
	s->loop = loop;
	s->set = *set;
	s->scan = scan;
	s->closed = closed;
	s->ud = ud;
	milter_decoder_init(&s->dec);
	s->cpool = pool_new(POOL_CAP);
	s->mpool = pool_new(POOL_CAP);
	buf_init(&s->msg, set->max_message);
	buf_init(&s->out, 0);
	str_format(s->id, sizeof(s->id), "m%06x", ++seq & 0xffffffu);
	s->conn = conn_new(loop, fd, NULL, 0, &cs, on_conn, s);
	if (s->conn == NULL) {
		s->closed = NULL;
		session_free(s);
		return NULL;
	}
	return s;
}
