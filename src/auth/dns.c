/*
 * dns.c - the asynchronous resolver: c-ares sockets driven by a libev
 * loop, an answer cache, coalescing of identical lookups in flight, and
 * the per-task helper the scan rules use.
 *
 * c-ares does the transport (UDP with TCP fallback on truncation, server
 * failover, query ids); we build the query ourselves with
 * ares_create_query() so we can ask with EDNS and the AD bit set, send it
 * with ares_send() and parse the raw reply (dns_parse.c) to keep the AD
 * bit, TTLs and TXT boundaries. ARES_FLAG_NOCHECKRESP makes SERVFAIL and
 * REFUSED come back at once instead of being retried as if lost.
 *
 * Retransmission is ours too: c-ares doubles its timeout on each round,
 * which with Rspamd's defaults (1 s, 5 tries) would stretch one lookup
 * past half a minute; we let c-ares try each server once and resend
 * `retransmits` times with the same timeout, as Rspamd's resolver does.
 *
 * c-ares cannot cancel one query, so a cancelled request is only detached
 * from its in-flight query; the answer still arrives and fills the cache.
 */
#include "auth/dns.h"

#include <ares.h>
#include <ctype.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth/auth_task.h"
#include "auth/dns_internal.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "scan/task.h"

#define DNS_NEG_TTL_DEFAULT 30u     /* NXDOMAIN/NODATA without an SOA */
#define DNS_TTL_MAX 86400u
#define DNS_NAME_MAX 1025

struct dns_request {
	struct inflight *q;
	dns_cb *cb;
	void *ud;
	struct dns_request *prev, *next;
};

/* One query on the wire, shared by every request for the same name/type. */
struct inflight {
	struct dns_resolver *r;
	char *key;               /* "type/name", lowercased */
	char *name;
	int qtype;
	unsigned attempts;
	bool in_send;            /* ares_send() may answer before returning */
	struct dns_answer *sync_answer;
	struct dns_request *waiters;
	struct inflight *prev, *next;
};

struct io_watch {
	ev_io io;
	struct dns_resolver *r;
	struct io_watch *next;
};

struct dns_resolver {
	struct ev_loop *loop;
	ares_channel channel;
	ev_timer timer;
	struct io_watch *ios;
	struct dns_cache *cache;
	struct inflight *inflight;
	unsigned retransmits;
	unsigned long sent;
	bool destroying;
};

static void inflight_answered(struct inflight *q, struct dns_answer *a);

/* ---- settings ---- */

static void
settings_add_servers(struct dns_settings *s, const char *text)
{
	const char *p = text, *comma;

	if (strncmp(p, "master-slave:", 13) == 0)
		p += 13;
	else if (strncmp(p, "round-robin:", 12) == 0)
		p += 12;
	for (; *p != '\0'; p = *comma ? comma + 1 : comma) {
		size_t n;

		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		while (p < comma && isspace((unsigned char)*p))
			p++;
		n = (size_t)(comma - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0)
			continue;
		s->nameservers = xrealloc(s->nameservers,
		    (s->n_nameservers + 1) * sizeof(char *));
		s->nameservers[s->n_nameservers++] = xstrndup(p, n);
	}
}

static int
settings_number(const struct obj *sec, const char *key, double lo, double hi,
    double *v_r, char **error_r)
{
	const struct obj *o = sec != NULL ? obj_lookup(sec, key) : NULL;

	if (o == NULL)
		return 0;
	if (obj_get_double(o, v_r) < 0 || *v_r < lo || *v_r > hi) {
		*error_r = xasprintf("%s:%u: dns %s must be a number in [%g, %g]",
		    o->file ? o->file : "config", o->line, key, lo, hi);
		return -1;
	}
	return 0;
}

int
dns_settings_from_config(const struct config *cfg, struct dns_settings *s, char **error_r)
{
	const struct obj *opts = cfg != NULL ? obj_lookup(cfg->root, "options") : NULL;
	const struct obj *sec = opts != NULL ? obj_lookup(opts, "dns") : NULL;
	const struct obj *ns = sec != NULL ? obj_lookup(sec, "nameserver") : NULL;
	const struct obj *it = NULL, *v;
	double timeout = 1.0, tries = 5, cache = 4096, maxreq = 64;

	memset(s, 0, sizeof(*s));
	while (ns != NULL && (v = obj_iter_values(ns, &it)) != NULL) {
		if (obj_get_string(v) == NULL) {
			*error_r = xasprintf("%s:%u: dns nameserver must be a string",
			    v->file ? v->file : "config", v->line);
			dns_settings_deinit(s);
			return -1;
		}
		settings_add_servers(s, obj_get_string(v));
	}
	if (settings_number(sec, "timeout", 0.001, 60, &timeout, error_r) < 0 ||
	    settings_number(sec, "retransmits", 1, 100, &tries, error_r) < 0 ||
	    settings_number(sec, "cache_size", 0, 1 << 24, &cache, error_r) < 0 ||
	    settings_number(opts, "dns_max_requests", 1, 1 << 20, &maxreq, error_r) < 0) {
		dns_settings_deinit(s);
		return -1;
	}
	s->timeout = timeout;
	s->retransmits = (unsigned)tries;
	s->cache_entries = (size_t)cache;
	s->max_task_requests = (unsigned)maxreq;
	return 0;
}

void
dns_settings_deinit(struct dns_settings *s)
{
	for (size_t i = 0; i < s->n_nameservers; i++)
		free(s->nameservers[i]);
	free(s->nameservers);
	s->nameservers = NULL;
	s->n_nameservers = 0;
}

/* ---- libev glue ---- */

static void
timer_update(struct dns_resolver *r)
{
	struct timeval tv;

	ev_timer_stop(r->loop, &r->timer);
	if (ares_timeout(r->channel, NULL, &tv) == NULL)
		return;
	/* c-ares rounds the remaining time down to 0 while its own clock has
	 * not quite reached the deadline: waiting 0 s would spin */
	ev_timer_set(&r->timer, MAX((double)tv.tv_sec + tv.tv_usec / 1e6, 0.002), 0.);
	ev_timer_start(r->loop, &r->timer);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_resolver *r = w->data;

	(void)loop;
	(void)revents;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	timer_update(r);
}

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct io_watch *iw = (struct io_watch *)w;
	struct dns_resolver *r = iw->r;
	int fd = w->fd;

	(void)loop;
	ares_process_fd(r->channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	timer_update(r);
}

/* c-ares tells us which sockets to watch for what. */
static void
on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct io_watch **pp = &r->ios, *iw;

	while (*pp != NULL && (*pp)->io.fd != fd)
		pp = &(*pp)->next;
	iw = *pp;
	if (iw != NULL)
		ev_io_stop(r->loop, &iw->io);
	if (!readable && !writable) {
		if (iw != NULL) {
			*pp = iw->next;
			free(iw);
		}
		return;
	}
	if (iw == NULL) {
		iw = xcalloc(1, sizeof(*iw));
		iw->r = r;
		iw->next = r->ios;
		r->ios = iw;
		ev_io_init(&iw->io, on_io, fd, 0);
	}
	ev_io_set(&iw->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &iw->io);
}

/* ---- resolver ---- */

static int
resolver_set_servers(struct dns_resolver *r, const struct dns_settings *s, char **error_r)
{
	struct buf csv;
	int rc;

	buf_init(&csv, 0);
	for (size_t i = 0; i < s->n_nameservers; i++) {
		if (i > 0)
			buf_putc(&csv, ',');
		buf_append_cstr(&csv, s->nameservers[i]);
	}
	buf_putc(&csv, '\0');
	rc = ares_set_servers_ports_csv(r->channel, csv.data);
	if (rc != ARES_SUCCESS)
		*error_r = xasprintf("dns: bad nameserver list \"%s\": %s", csv.data,
		    ares_strerror(rc));
	buf_deinit(&csv);
	return rc == ARES_SUCCESS ? 0 : -1;
}

struct dns_resolver *
dns_resolver_new(struct ev_loop *loop, const struct dns_settings *s, char **error_r)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	struct ares_options o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
	o.timeout = (int)(s->timeout * 1000 + 0.5);
	if (o.timeout <= 0)
		o.timeout = 1000;
	o.tries = 1;
	o.ednspsz = 4096;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = r;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc == ARES_SUCCESS)
		rc = ares_init_options(&r->channel, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
		    ARES_OPT_TRIES | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		*error_r = xasprintf("dns: cannot initialise c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->retransmits = s->retransmits > 0 ? s->retransmits : 1;
	r->cache = dns_cache_new(s->cache_entries);
	ev_timer_init(&r->timer, on_timer, 0., 0.);
	r->timer.data = r;
	if (s->n_nameservers > 0 && resolver_set_servers(r, s, error_r) < 0) {
		dns_resolver_free(&r);
		return NULL;
	}
	return r;
}

void
dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	r->destroying = true;
	for (struct inflight *q = r->inflight; q != NULL; q = q->next) {
		while (q->waiters != NULL)
			dns_request_cancel(r, q->waiters);
	}
	/* calls every outstanding callback with ARES_EDESTRUCTION: they free
	 * their inflight records */
	ares_destroy(r->channel);
	while (r->ios != NULL) {
		struct io_watch *iw = r->ios;

		r->ios = iw->next;
		ev_io_stop(r->loop, &iw->io);
		free(iw);
	}
	ev_timer_stop(r->loop, &r->timer);
	dns_cache_free(&r->cache);
	free(r);
	*rp = NULL;
}

unsigned long
dns_resolver_queries_sent(const struct dns_resolver *r)
{
	return r->sent;
}

void
dns_resolver_cache_clear(struct dns_resolver *r)
{
	dns_cache_clear(r->cache);
}

/* ---- queries ---- */

static void
inflight_free(struct inflight *q)
{
	free(q->key);
	free(q->name);
	free(q);
}

static enum dns_rcode
status_rcode(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
		return DNS_RC_TIMEOUT;
	case ARES_ENOTFOUND:
		return DNS_RC_NXDOMAIN;
	case ARES_ESERVFAIL:
		return DNS_RC_SERVFAIL;
	case ARES_EREFUSED:
		return DNS_RC_REFUSED;
	default:
		return DNS_RC_ERROR;
	}
}

static bool send_query(struct inflight *q);

static void
on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct inflight *q = arg;
	struct dns_answer *a = NULL;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || q->r->destroying) {
		inflight_free(q);
		return;
	}
	if (status == ARES_ETIMEOUT && ++q->attempts < q->r->retransmits) {
		(void)send_query(q);
		return;
	}
	if (status == ARES_SUCCESS && abuf != NULL)
		a = dns_answer_parse(abuf, (size_t)alen, q->qtype);
	if (a == NULL)
		a = dns_answer_new_empty(status == ARES_SUCCESS ? DNS_RC_ERROR :
		    status_rcode(status));
	if (q->in_send) {
		q->sync_answer = a;
		return;
	}
	inflight_answered(q, a);
}

/*
 * Puts the query on the wire. An immediate failure is delivered at once:
 * returns true then (the inflight and its requests are gone).
 */
static bool
send_query(struct inflight *q)
{
	unsigned char *buf = NULL;
	int len = 0;
	struct dns_answer *a;

	if (ares_create_query(q->name, 1 /* IN */, q->qtype, 0, 1, &buf, &len, 4096) !=
	    ARES_SUCCESS) {
		inflight_answered(q, dns_answer_new_empty(DNS_RC_ERROR));
		return true;
	}
	buf[3] |= 0x20;          /* AD: tell us what the server validated */
	q->r->sent++;
	q->in_send = true;
	ares_send(q->r->channel, buf, len, on_ares_answer, q);
	q->in_send = false;
	ares_free_string(buf);
	if ((a = q->sync_answer) != NULL) {
		q->sync_answer = NULL;
		inflight_answered(q, a);
		return true;
	}
	timer_update(q->r);
	return false;
}

static void
cache_store(struct dns_resolver *r, const char *key, struct dns_answer *a)
{
	uint32_t ttl;

	if (a->rcode != DNS_RC_NOERROR && a->rcode != DNS_RC_NXDOMAIN)
		return;
	ttl = a->has_ttl ? a->ttl : DNS_NEG_TTL_DEFAULT;
	if (a->n_rr == 0 && !a->has_ttl)
		ttl = DNS_NEG_TTL_DEFAULT;
	ttl = MIN(ttl, DNS_TTL_MAX);
	if (ttl > 0)
		dns_cache_put(r->cache, key, a, ev_now(r->loop) + ttl);
}

static void
deliver(struct dns_request *req, const char *qname, int qtype, struct dns_answer *a,
    bool from_cache)
{
	struct dns_reply reply = {
		.qname = qname, .qtype = qtype, .rcode = a->rcode, .ad = a->ad,
		.from_cache = from_cache, .rr = a->rr, .n_rr = a->n_rr,
	};

	req->cb(&reply, req->ud);
}

/* The answer is in: cache it, then call every request still waiting. */
static void
inflight_answered(struct inflight *q, struct dns_answer *a)
{
	struct dns_resolver *r = q->r;
	struct dns_request *req;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->inflight = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	cache_store(r, q->key, a);
	/* a callback may cancel other waiters of this query: pop one at a time */
	while ((req = q->waiters) != NULL) {
		q->waiters = req->next;
		if (req->next != NULL)
			req->next->prev = NULL;
		deliver(req, q->name, q->qtype, a, false);
		free(req);
	}
	dns_answer_unref(&a);
	inflight_free(q);
}

/* "16/example.com": lowercased, without the trailing dot. */
static char *
make_key(const char *name, int qtype, char **name_r)
{
	size_t n = strlen(name);
	char *key;

	if (n > 1 && name[n - 1] == '.')
		n--;
	*name_r = xstrndup(name, n);
	key = xasprintf("%d/%s", qtype, *name_r);
	for (char *p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}

static struct dns_request *
request_attach(struct inflight *q, dns_cb *cb, void *ud)
{
	struct dns_request *req = xcalloc(1, sizeof(*req));

	req->q = q;
	req->cb = cb;
	req->ud = ud;
	req->next = q->waiters;
	if (q->waiters != NULL)
		q->waiters->prev = req;
	q->waiters = req;
	return req;
}

static bool
name_invalid(const char *name)
{
	size_t n = strlen(name);

	return n == 0 || n >= DNS_NAME_MAX;
}

/* Answers at once (cache or error); always returns NULL. */
static struct dns_request *
resolve_now(const char *name, int qtype, struct dns_answer *a, bool from_cache,
    dns_cb *cb, void *ud)
{
	struct dns_request req = { .cb = cb, .ud = ud };

	deliver(&req, name, qtype, a, from_cache);
	dns_answer_unref(&a);
	return NULL;
}

struct dns_request *
dns_resolve(struct dns_resolver *r, const char *name, int qtype, dns_cb *cb, void *ud)
{
	struct inflight *q;
	struct dns_answer *a;
	struct dns_request *req;
	char *norm, *key;

	if (name_invalid(name))
		return resolve_now(name, qtype, dns_answer_new_empty(DNS_RC_ERROR), false, cb, ud);
	key = make_key(name, qtype, &norm);
	if ((a = dns_cache_get(r->cache, key, ev_now(r->loop))) != NULL) {
		dns_answer_ref(a);
		free(key);
		resolve_now(norm, qtype, a, true, cb, ud);
		free(norm);
		return NULL;
	}
	for (q = r->inflight; q != NULL; q = q->next) {
		if (strcmp(q->key, key) == 0) {
			free(key);
			free(norm);
			return request_attach(q, cb, ud);
		}
	}
	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->key = key;
	q->name = norm;
	q->qtype = qtype;
	q->next = r->inflight;
	if (r->inflight != NULL)
		r->inflight->prev = q;
	r->inflight = q;
	req = request_attach(q, cb, ud);
	return send_query(q) ? NULL : req;
}

void
dns_request_cancel(struct dns_resolver *r, struct dns_request *req)
{
	struct inflight *q;

	(void)r;
	if (req == NULL)
		return;
	q = req->q;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		q->waiters = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	free(req);
}

/* ---- scanning helper ---- */

/*
 * One resolver per worker process and loop, made on first use: the engine
 * is built in the main process before forking, so nothing may exist at
 * init. A child inheriting the parent's resolver (pid changed) leaves it
 * alone and builds its own. Settings come from the first task's config;
 * a reload keeps the resolver (nameserver changes need a restart).
 */
static struct {
	pid_t pid;
	struct ev_loop *loop;
	struct dns_resolver *r;
	unsigned max_requests;
	bool failed;
} task_dns;

struct task_lookup {
	struct scan_task *task;
	struct scan_pending *pending;
	struct dns_request *req;
	dns_cb *cb;
	void *ud;
};

static struct dns_resolver *
task_resolver(struct scan_task *task)
{
	struct dns_settings s;
	char *error = NULL;

	if (task_dns.pid == getpid() && task_dns.loop == task->loop)
		return task_dns.r;
	task_dns.pid = getpid();
	task_dns.loop = task->loop;
	task_dns.r = NULL;
	if (dns_settings_from_config(task->cfg, &s, &error) == 0) {
		task_dns.r = dns_resolver_new(task->loop, &s, &error);
		task_dns.max_requests = s.max_task_requests;
		dns_settings_deinit(&s);
	}
	if (task_dns.r == NULL) {
		log_error("dns", task->id, "%s", error ? error : "cannot create the resolver");
		free(error);
	}
	return task_dns.r;
}

static void
task_lookup_done(const struct dns_reply *reply, void *ud)
{
	struct task_lookup *tl = ud;

	tl->req = NULL;
	tl->cb(reply, tl->ud);
	/* last: finishing the stage may free the task */
	scan_task_pending_done(tl->task, tl->pending);
}

static void
task_lookup_cancel(void *ud)
{
	struct task_lookup *tl = ud;

	if (tl->req != NULL && task_dns.r != NULL)
		dns_request_cancel(task_dns.r, tl->req);
	tl->req = NULL;
}

int
dns_task_resolve(struct scan_task *task, const char *name, int qtype, dns_cb *cb, void *ud)
{
	struct auth_task *at;
	struct task_lookup *tl;
	struct dns_resolver *r;
	struct dns_request *req;

	if (task->loop == NULL || (r = task_resolver(task)) == NULL)
		return -1;
	if ((at = auth_task_get(task)) == NULL || at->dns_requests >= task_dns.max_requests) {
		log_info("dns", task->id, "DNS request limit (%u) reached, %s not resolved",
		    task_dns.max_requests, name);
		return -1;
	}
	if ((tl = pool_alloc(task->pool, sizeof(*tl))) == NULL)
		return -1;
	tl->task = task;
	tl->cb = cb;
	tl->ud = ud;
	if ((tl->pending = scan_task_pending_add(task, "dns", task_lookup_cancel, tl)) == NULL)
		return -1;
	at->dns_requests++;
	/* set before the call: a cache hit runs task_lookup_done inside it */
	tl->req = NULL;
	req = dns_resolve(r, name, qtype, task_lookup_done, tl);
	if (req != NULL)
		tl->req = req;
	return 0;
}

unsigned
dns_task_requests(const struct scan_task *task)
{
	const struct auth_task *at = task->auth_task;

	return at != NULL ? at->dns_requests : 0;
}
