/*
 * qmgr_outbound.c - remote delivery: the queue manager's SMTP side.
 *
 * A message with remote recipients stays open in active/ while its
 * recipients travel. They are grouped per destination (the next hop:
 * transport_maps entry, relayhost or the recipient domain) into jobs of
 * at most smtp_destination_recipient_limit recipients; each destination
 * runs at most smtp_destination_concurrency_limit connections, which
 * take jobs from its queue one after the other (a connection carries
 * several messages before QUIT and lingers a moment for more).
 *
 * A connection resolves the destination (qmgr_route.c: MX order, A/AAAA
 * fallback) and tries its addresses in order; a TLS failure under "may"
 * retries the same address in plaintext. When every address failed and
 * no other connection to the destination works, the destination is
 * marked dead for minimal_backoff_time: its queued and newly arriving
 * jobs are deferred at once instead of each waiting for timeouts, so one
 * dead host does not hold up the rest of the queue.
 *
 * Results go into the message's envelope in memory (2xx delivered, 4xx
 * deferred, 5xx failed with the remote reply); when the last job of a
 * message is done, qmgr_settle() records them on disk, bounces and
 * defers, and the finished queue files are removed in groups (one
 * directory fsync for many). A crash loses only the in-memory results:
 * the file goes back to incoming/ and those recipients get the message
 * again, which the durability rule allows (at least once).
 */
#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config/config_mta.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/tls.h"
#include "log/log.h"
#include "smtp/smtp_client.h"
#include "worker/qmgr.h"

/* A connection with nothing to send waits this long for more work. */
#define OB_IDLE_LINGER 2.0
/* Finished files removed with one directory fsync, at most this many. */
#define OB_COMMIT_BATCH 64
#define OB_COMMIT_DELAY 0.005
/* Never more messages open at once than this share of the fd limit. */
#define OB_FD_RESERVE 64

struct ob_msg {
	struct qmgr_outbound *ob;
	struct spool_message msg;
	struct pool *pool;
	unsigned jobs;               /* unfinished jobs */
	struct ob_msg *prev, *next;
};

struct ob_job {
	struct ob_msg *m;
	size_t *rcpt;                /* indices in m->msg.env.rcpts */
	size_t n;
	struct ob_job *next;
};

struct ob_dest {
	struct qmgr_outbound *ob;
	char key[300];
	struct qmgr_nexthop hop;
	enum smtp_client_tls tls;
	struct ob_job *head, *tail;
	size_t queued;
	unsigned conns, starting, ready;
	struct ob_conn *list;
	double dead_until;
	char dead_reply[SMTP_CLIENT_TEXT_MAX + 128];
	struct ob_dest *next;
};

struct ob_conn {
	struct ob_dest *d;
	struct qmgr_lookup *lk;
	struct qmgr_addr addrs[QMGR_MAX_ROUTE_ADDRS];
	size_t n_addrs, cur;
	bool plain;                  /* retrying without STARTTLS */
	bool is_ready;
	struct smtp_client *c;
	struct smtp_client_settings set;
	struct ob_job *job;
	struct smtp_client_msg sm;   /* borrowed by the client until done */
	const char **rcpts;
	char last_error[SMTP_CLIENT_TEXT_MAX + 128];
	int last_code;               /* of the last failure, 0 if none */
	char last_enhanced[16];
	ev_timer idle;
	struct ob_conn *prev, *next;  /* the destination's connections */
};

struct qmgr_outbound {
	struct qmgr *q;
	struct ev_loop *loop;
	struct dns_resolver *dns;
	struct qmgr_map *transports, *tls_policy;
	struct ssl_ctx_st *tls_ctx;
	struct smtp_client_callbacks cbs;
	struct ob_dest *dests;
	struct ob_msg *msgs;
	size_t n_msgs, max_msgs;
	struct qmgr_batch batch;     /* finished files, removed together */
	ev_timer commit;             /* soon after a message finished */
	qmgr_outbound_kick_fn *kick;
	void *kick_ud;
};

static void dest_pump(struct ob_dest *d);
static void conn_free(struct ob_conn *k);

static enum smtp_client_tls
tls_level(const char *text)
{
	if (text != NULL && strcmp(text, "none") == 0)
		return SMTP_TLS_NONE;
	if (text != NULL && (strcmp(text, "encrypt") == 0 || strcmp(text, "verify") == 0 ||
	    strcmp(text, "secure") == 0))
		return SMTP_TLS_ENCRYPT;
	return SMTP_TLS_MAY;
}

static struct ob_dest *
dest_get(struct qmgr_outbound *ob, const struct qmgr_nexthop *hop, const char *domain)
{
	struct ob_dest *d;
	char key[300];
	const char *policy;

	enum smtp_client_tls tls;
	size_t len;

	/* One next hop under two TLS policies is two destinations. */
	policy = qmgr_map_match(ob->tls_policy, hop->host);
	if (policy == NULL)
		policy = qmgr_map_match(ob->tls_policy, domain);
	tls = tls_level(policy != NULL ? policy : ob->q->mta->smtp_tls_security_level);
	qmgr_nexthop_key(hop, key, sizeof(key) - 4);
	len = strlen(key);
	(void)str_format(key + len, sizeof(key) - len, "/%d", (int)tls);
	for (d = ob->dests; d != NULL; d = d->next) {
		if (strcmp(d->key, key) == 0)
			return d;
	}
	d = xcalloc(1, sizeof(*d));
	d->ob = ob;
	str_lcpy(d->key, key, sizeof(d->key));
	d->hop = *hop;
	d->tls = tls;
	d->next = ob->dests;
	ob->dests = d;
	return d;
}

static void
msg_done(struct ob_msg *m)
{
	struct qmgr_outbound *ob = m->ob;

	(void)qmgr_settle(ob->q, &m->msg, m->pool, &ob->batch);
	spool_message_close(&m->msg);
	pool_free(&m->pool);
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		ob->msgs = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	free(m);
	ob->n_msgs--;
	/* Messages finishing within a few milliseconds share one directory
	 * fsync; a full batch goes at once. */
	if (ob->batch.n_done >= OB_COMMIT_BATCH)
		qmgr_batch_commit(ob->q, &ob->batch);
	if (!ev_is_active(&ob->commit))
		ev_timer_start(ob->loop, &ob->commit);
}

/* Group commit of finished files, then room for more messages. */
static void
on_commit(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct qmgr_outbound *ob = w->data;

	UNUSED(loop);
	UNUSED(revents);
	qmgr_batch_commit(ob->q, &ob->batch);
	if (ob->kick != NULL)
		ob->kick(ob->kick_ud);
}

static void PRINTF_LIKE(4, 5)
rcpt_result(struct ob_msg *m, size_t i, enum spool_rcpt_status st, const char *fmt, ...)
{
	struct spool_rcpt *r = &m->msg.env.rcpts[i];
	va_list ap;

	va_start(ap, fmt);
	r->status = st;
	r->reply = str_from_cstr(pool_vprintf(m->pool, fmt, ap));
	va_end(ap);
}

static void
job_free(struct ob_job *j)
{
	struct ob_msg *m = j->m;
	bool sent = false;

	for (size_t i = 0; i < j->n; i++)
		sent |= m->msg.env.rcpts[j->rcpt[i]].status == SPOOL_RCPT_DELIVERED;
	free(j->rcpt);
	free(j);
	if (--m->jobs == 0) {
		msg_done(m);
	} else if (sent) {
		/* Other jobs of this message are still out: record who has it
		 * now, so a crash resends only to the recipients in flight. */
		(void)spool_update_envelope(m->ob->q->spool, SPOOL_ACTIVE, m->msg.id, &m->msg.env,
		    NULL);
	}
}

/* Every recipient of the job gets `reply` (4xx: deferred, 5xx: failed). */
static void
job_fail(struct ob_job *j, const char *reply)
{
	enum spool_rcpt_status st = reply[0] == '5' ? SPOOL_RCPT_FAILED : SPOOL_RCPT_DEFERRED;

	for (size_t i = 0; i < j->n; i++) {
		const char *addr = j->m->msg.env.rcpts[j->rcpt[i]].addr.ptr;

		log_info("qmgr", j->m->msg.id, "to=<%s> status=%s (%s)", addr,
		    st == SPOOL_RCPT_FAILED ? "bounced" : "deferred", reply);
		rcpt_result(j->m, j->rcpt[i], st, "%s", reply);
	}
	job_free(j);
}

static struct ob_job *
dest_pop(struct ob_dest *d)
{
	struct ob_job *j = d->head;

	if (j != NULL) {
		d->head = j->next;
		if (d->head == NULL)
			d->tail = NULL;
		d->queued--;
		j->next = NULL;
	}
	return j;
}

static void
dest_fail_all(struct ob_dest *d, const char *reply)
{
	struct ob_job *j;

	while ((j = dest_pop(d)) != NULL)
		job_fail(j, reply);
}

static void
dest_push(struct ob_dest *d, struct ob_job *j)
{
	if (d->tail != NULL)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	d->queued++;
}

/*
 * Connections.
 */
static void conn_try_next(struct ob_conn *k);

static bool
ascii_only(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

static void
conn_send(struct ob_conn *k, struct ob_job *j)
{
	struct spool_message *msg = &j->m->msg;
	struct smtp_client_msg *sm = &k->sm;

	k->job = j;
	ev_timer_stop(k->d->ob->loop, &k->idle);
	k->rcpts = xrealloc(k->rcpts, j->n * sizeof(*k->rcpts));
	for (size_t i = 0; i < j->n; i++)
		k->rcpts[i] = msg->env.rcpts[j->rcpt[i]].addr.ptr;
	memset(sm, 0, sizeof(*sm));
	sm->mail_from = msg->env.sender.ptr;
	sm->rcpts = k->rcpts;
	sm->n_rcpts = j->n;
	sm->fd = msg->fd;
	sm->fd_offset = msg->body_offset;
	sm->fd_len = (size_t)msg->body_len;
	/* The body is not scanned for 8-bit bytes here: announcing
	 * 8BITMIME costs nothing when the peer has it. */
	sm->body_8bit = true;
	sm->smtputf8 = !ascii_only(sm->mail_from);
	for (size_t i = 0; i < j->n; i++)
		sm->smtputf8 |= !ascii_only(k->rcpts[i]);
	if (smtp_client_send(k->c, sm) < 0) {
		k->job = NULL;
		job_fail(j, "451 4.3.0 internal error: the SMTP client refused the message");
	}
}

/* Gives the connection its next job, or lets it linger, then quit. */
static void
conn_next(struct ob_conn *k)
{
	struct ob_job *j = dest_pop(k->d);

	if (j != NULL) {
		conn_send(k, j);
		return;
	}
	ev_timer_set(&k->idle, OB_IDLE_LINGER, 0.0);
	ev_timer_start(k->d->ob->loop, &k->idle);
}

static void
on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ob_conn *k = w->data;

	UNUSED(loop);
	UNUSED(revents);
	if (k->job == NULL && k->c != NULL)
		smtp_client_quit(k->c);
}

static void
on_ready(struct smtp_client *c, const struct smtp_client_caps *caps, void *ud)
{
	struct ob_conn *k = ud;

	UNUSED(c);
	k->is_ready = true;
	k->d->starting--;
	k->d->ready++;
	k->d->dead_until = 0;
	log_debug("qmgr", NULL, "connected to %s%s%s", smtp_client_peer(k->c),
	    caps->tls ? " with " : "", caps->tls ? caps->tls_desc : "");
	conn_next(k);
}

static void
on_done(struct smtp_client *c, const struct smtp_client_result *r, void *ud)
{
	struct ob_conn *k = ud;
	struct ob_job *j = k->job;
	char diag[SMTP_CLIENT_TEXT_MAX + 256];

	k->job = NULL;
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n && i < r->n_rcpts; i++) {
		const struct smtp_client_reply *rr = &r->rcpts[i];
		const char *addr = j->m->msg.env.rcpts[j->rcpt[i]].addr.ptr;
		enum spool_rcpt_status st = rr->code >= 200 && rr->code < 300 ?
		    SPOOL_RCPT_DELIVERED : rr->code >= 500 ? SPOOL_RCPT_FAILED : SPOOL_RCPT_DEFERRED;

		(void)smtp_client_diag(c, rr, diag, sizeof(diag));
		log_info("qmgr", j->m->msg.id, "to=<%s> relay=%s status=%s (%s)", addr,
		    smtp_client_peer(c), st == SPOOL_RCPT_DELIVERED ? "sent" :
		    st == SPOOL_RCPT_FAILED ? "bounced" : "deferred", diag);
		/* The reply as the peer gave it leads (the DSN takes its status
		 * and Diagnostic-Code from there), then who said it. */
		if (rr->local)
			rcpt_result(j->m, j->rcpt[i], st, "%d %s %s", rr->code, rr->enhanced, diag);
		else
			rcpt_result(j->m, j->rcpt[i], st, "%d %s %s (host %s, in reply to %s command)",
			    rr->code, rr->enhanced, rr->text, smtp_client_peer(c),
			    smtp_client_stage_name(rr->stage));
	}
	/* Never settle a recipient without a result as if it were done. */
	for (size_t i = r->n_rcpts; i < j->n; i++)
		rcpt_result(j->m, j->rcpt[i], SPOOL_RCPT_DEFERRED, "451 4.3.0 no result from "
		    "the SMTP client");
	job_free(j);
	if (r->reusable)
		conn_next(k);
}

static void
on_closed(struct smtp_client *c, const struct smtp_client_end *e, void *ud)
{
	struct ob_conn *k = ud;
	struct ob_dest *d = k->d;

	k->c = NULL;
	if (k->job != NULL) {
		/* done should have come first; never lose the job */
		dest_push(d, k->job);
		k->job = NULL;
	}
	if (k->is_ready) {
		d->ready--;
		conn_free(k);
		dest_pump(d);
		return;
	}
	(void)smtp_client_diag(c, &e->reply, k->last_error, sizeof(k->last_error));
	k->last_code = e->reply.code;
	str_lcpy(k->last_enhanced, e->reply.enhanced, sizeof(k->last_enhanced));
	if (e->tls_failed && !k->plain) {
		k->plain = true; /* same address again, without STARTTLS */
	} else {
		k->plain = false;
		k->cur++;
	}
	conn_try_next(k);
}

/* No address of the destination answered. */
static void
conn_give_up(struct ob_conn *k, const char *reply, bool perm)
{
	struct ob_dest *d = k->d;
	struct qmgr_outbound *ob = d->ob;

	d->starting--;
	if (!perm && d->ready > 0) {
		/* The working connections drain the queue; starting another
		 * now would only repeat this failure in a tight circle. */
		conn_free(k);
		return;
	}
	if (perm) {
		dest_fail_all(d, reply);
	} else {
		d->dead_until = ev_now(ob->loop) + ob->q->mta->minimal_backoff_time;
		str_lcpy(d->dead_reply, reply, sizeof(d->dead_reply));
		log_info("qmgr", NULL, "destination %s is down for %.0f s: %s", d->key,
		    ob->q->mta->minimal_backoff_time, reply);
		dest_fail_all(d, reply);
	}
	conn_free(k);
	dest_pump(d);
}

static void
conn_try_next(struct ob_conn *k)
{
	struct smtp_client_end end;
	char reply[sizeof(k->last_error) + 32];

	while (k->cur < k->n_addrs) {
		const struct qmgr_addr *a = &k->addrs[k->cur];

		k->set.tls = k->plain ? SMTP_TLS_NONE : k->d->tls;
		memset(&end, 0, sizeof(end));
		k->c = smtp_client_connect(k->d->ob->loop, (const struct sockaddr *)&a->sa, a->len,
		    a->host, &k->set, &k->d->ob->cbs, k, &end);
		if (k->c != NULL)
			return;
		str_lcpy(k->last_error, end.reply.text, sizeof(k->last_error));
		k->cur++;
	}
	if (k->last_error[0] == '\0')
		str_lcpy(k->last_error, "no address to connect to", sizeof(k->last_error));
	/* A temporary reason of its own (4.7.4 no STARTTLS, ...) is kept; a
	 * 5xx greeting only means "not this host": the mail waits. */
	if (k->last_code >= 400 && k->last_code < 500 && k->last_enhanced[0] == '4') {
		if (str_format(reply, sizeof(reply), "%d %s %s", k->last_code, k->last_enhanced,
		    k->last_error) < 0)
			str_lcpy(reply, "451 4.4.1 connection failed", sizeof(reply));
	} else if (str_format(reply, sizeof(reply), "451 4.4.1 %s", k->last_error) < 0) {
		str_lcpy(reply, "451 4.4.1 connection failed", sizeof(reply));
	}
	conn_give_up(k, reply, false);
}

static void
on_resolved(int status, const char *reply, const struct qmgr_addr *addrs, size_t n,
    void *ud)
{
	struct ob_conn *k = ud;

	k->lk = NULL;
	if (status != QMGR_RESOLVE_OK) {
		conn_give_up(k, reply, status == QMGR_RESOLVE_PERM);
		return;
	}
	memcpy(k->addrs, addrs, n * sizeof(*addrs));
	k->n_addrs = n;
	k->cur = 0;
	conn_try_next(k);
}

static void
conn_start(struct ob_dest *d)
{
	struct qmgr_outbound *ob = d->ob;
	const struct mta_settings *mta = ob->q->mta;
	struct ob_conn *k = xcalloc(1, sizeof(*k));

	k->d = d;
	k->next = d->list;
	if (d->list != NULL)
		d->list->prev = k;
	d->list = k;
	d->conns++;
	d->starting++;
	k->set.helo_name = mta->myhostname;
	k->set.tls_ctx = ob->tls_ctx;
	k->set.connect_timeout = mta->smtp_connect_timeout;
	k->set.helo_timeout = mta->smtp_helo_timeout;
	k->set.mail_timeout = mta->smtp_mail_timeout;
	k->set.rcpt_timeout = mta->smtp_rcpt_timeout;
	k->set.data_init_timeout = mta->smtp_data_init_timeout;
	k->set.data_xfer_timeout = mta->smtp_data_xfer_timeout;
	k->set.data_done_timeout = mta->smtp_data_done_timeout;
	k->set.quit_timeout = mta->smtp_quit_timeout;
	k->set.bind_address = mta->smtp_bind_address;
	ev_timer_init(&k->idle, on_idle, OB_IDLE_LINGER, 0.0);
	k->idle.data = k;
	k->lk = qmgr_resolve(ob->dns, ob->loop, &d->hop, on_resolved, k);
}

static void
conn_free(struct ob_conn *k)
{
	struct ob_dest *d = k->d;

	ev_timer_stop(d->ob->loop, &k->idle);
	qmgr_lookup_cancel(&k->lk);
	smtp_client_free(&k->c);
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		d->list = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	d->conns--;
	free(k->rcpts);
	free(k);
}

/* An idle destination that is not marked down is not worth keeping. */
static void
dest_forget(struct ob_dest *d)
{
	struct ob_dest **p = &d->ob->dests;

	while (*p != NULL && *p != d)
		p = &(*p)->next;
	if (*p == d)
		*p = d->next;
	free(d);
}

/*
 * Starts connections while jobs wait and the limit allows. May free `d`
 * (nothing queued, no connection): callers do not use it afterwards.
 */
static void
dest_pump(struct ob_dest *d)
{
	struct qmgr_outbound *ob = d->ob;
	unsigned limit = MAX(1u, ob->q->mta->smtp_destination_concurrency_limit);

	if (d->queued > 0 && d->dead_until > ev_now(ob->loop)) {
		dest_fail_all(d, d->dead_reply);
		return;
	}
	/* Lingering connections first: reuse beats a new handshake. */
	for (struct ob_conn *k = d->list; k != NULL && d->queued > 0; k = k->next) {
		if (k->is_ready && k->job == NULL && k->c != NULL)
			conn_send(k, dest_pop(d));
	}
	while (d->queued > d->starting && d->conns < limit)
		conn_start(d);
	if (d->conns == 0 && d->queued == 0 && d->dead_until <= ev_now(ob->loop))
		dest_forget(d);
}

/*
 * Taking messages.
 */
static const char *
rcpt_domain(const struct spool_rcpt *r)
{
	const char *at = strrchr(r->addr.ptr, '@');

	return at != NULL ? at + 1 : "";
}

/* Appends recipient i to the open job of `d` for this message. */
static void
add_to_dest(struct ob_msg *m, struct ob_dest *d, struct ob_job **open, size_t i)
{
	unsigned limit = MAX(1u, m->ob->q->mta->smtp_destination_recipient_limit);
	struct ob_job *j = *open;

	if (j == NULL || j->n >= limit) {
		j = xcalloc(1, sizeof(*j));
		j->m = m;
		j->rcpt = xcalloc(limit, sizeof(*j->rcpt));
		m->jobs++;
		dest_push(d, j);
		*open = j;
	}
	j->rcpt[j->n++] = i;
}

void
qmgr_outbound_take(struct qmgr_outbound *ob, struct spool_message *msg, struct pool *pool,
    const bool *remote)
{
	struct ob_msg *m = xcalloc(1, sizeof(*m));
	size_t n = msg->env.rcpt_count;
	struct ob_dest **dest = xcalloc(n, sizeof(*dest));
	struct ob_job **open = xcalloc(n, sizeof(*open));

	m->ob = ob;
	m->msg = *msg;
	m->pool = pool;
	m->next = ob->msgs;
	if (ob->msgs != NULL)
		ob->msgs->prev = m;
	ob->msgs = m;
	ob->n_msgs++;
	m->jobs = 1; /* held until every job is queued */
	for (size_t i = 0; i < n; i++) {
		struct qmgr_nexthop hop;
		size_t slot;

		if (!remote[i])
			continue;
		if (qmgr_route(ob->transports, ob->q->mta->relayhost, rcpt_domain(&msg->env.rcpts[i]),
		    &hop) < 0) {
			rcpt_result(m, i, SPOOL_RCPT_FAILED, "550 5.1.2 %s: bad destination",
			    msg->env.rcpts[i].addr.ptr);
			continue;
		}
		dest[i] = dest_get(ob, &hop, rcpt_domain(&msg->env.rcpts[i]));
		/* recipients of one destination share jobs: find its slot */
		for (slot = 0; slot < i && dest[slot] != dest[i]; slot++)
			;
		add_to_dest(m, dest[i], &open[slot], i);
	}
	for (size_t i = 0; i < n; i++) {
		if (dest[i] != NULL && open[i] != NULL)
			dest_pump(dest[i]);
	}
	free(dest);
	free(open);
	if (--m->jobs == 0)
		msg_done(m);
}

bool
qmgr_outbound_full(const struct qmgr_outbound *ob)
{
	return ob->n_msgs >= ob->max_msgs;
}

size_t
qmgr_outbound_count(const struct qmgr_outbound *ob)
{
	return ob->n_msgs;
}

static size_t
max_open_messages(const struct mta_settings *mta)
{
	struct rlimit rl;
	size_t cap = 1000;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cap = rl.rlim_cur > 2 * OB_FD_RESERVE ? (size_t)rl.rlim_cur / 2 - OB_FD_RESERVE :
		    OB_FD_RESERVE;
	return MAX(1, MIN(cap, (size_t)mta->qmgr_message_active_limit));
}

int
qmgr_outbound_new(struct qmgr *q, struct ev_loop *loop, struct dns_resolver *dns,
    qmgr_outbound_kick_fn *kick, void *kick_ud, struct qmgr_outbound **ob_r,
    char **error_r)
{
	struct qmgr_outbound *ob = xcalloc(1, sizeof(*ob));

	*ob_r = NULL;
	ob->q = q;
	ob->loop = loop;
	ob->dns = dns;
	ob->kick = kick;
	ob->kick_ud = kick_ud;
	ob->max_msgs = max_open_messages(q->mta);
	ob->cbs.ready = on_ready;
	ob->cbs.done = on_done;
	ob->cbs.closed = on_closed;
	ev_timer_init(&ob->commit, on_commit, OB_COMMIT_DELAY, 0.0);
	ob->commit.data = ob;
	if (qmgr_map_load(q->mta->transport_maps, &ob->transports, error_r) < 0 ||
	    qmgr_map_load(q->mta->smtp_tls_policy_maps, &ob->tls_policy, error_r) < 0 ||
	    (ob->tls_ctx = tls_client_ctx_new(false, NULL, NULL, error_r)) == NULL) {
		qmgr_outbound_free(&ob);
		return -1;
	}
	*ob_r = ob;
	return 0;
}

void
qmgr_outbound_free(struct qmgr_outbound **obp)
{
	struct qmgr_outbound *ob = *obp;

	if (ob == NULL)
		return;
	/* Messages still in flight stay in active/: spool_recover() puts
	 * them back at the next start. Only memory is released here. */
	while (ob->dests != NULL) {
		struct ob_dest *d = ob->dests;
		struct ob_job *j;

		ob->dests = d->next;
		while (d->list != NULL) {
			if (d->list->job != NULL) {
				free(d->list->job->rcpt);
				free(d->list->job);
			}
			d->list->job = NULL;
			conn_free(d->list);
		}
		while ((j = dest_pop(d)) != NULL) {
			free(j->rcpt);
			free(j);
		}
		free(d);
	}
	while (ob->msgs != NULL) {
		struct ob_msg *m = ob->msgs;

		ob->msgs = m->next;
		spool_message_close(&m->msg);
		pool_free(&m->pool);
		free(m);
	}
	ev_timer_stop(ob->loop, &ob->commit);
	qmgr_batch_commit(ob->q, &ob->batch);
	qmgr_batch_free(&ob->batch);
	qmgr_map_free(&ob->transports);
	qmgr_map_free(&ob->tls_policy);
	tls_ctx_free(&ob->tls_ctx);
	free(ob);
	*obp = NULL;
}
