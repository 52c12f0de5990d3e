/*
 * qmgr_bounce.c - notifications to the sender (RFC 3464 bounces and
 * delay warnings) and the hop count the loop detector needs.
 *
 * A notification is an ordinary new message: built by dsn_build(),
 * written through the spool writer with the null sender and the original
 * sender as its only recipient, and committed to incoming/, where the
 * queue manager picks it up like any other mail (local delivery when the
 * sender is ours). It is committed before the original's envelope says
 * "bounced", so a crash in between sends it twice rather than never.
 * A message with the null sender is never bounced: two MTAs could
 * otherwise bounce each other's bounces forever.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config_mta.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "queue/dsn.h"
#include "queue/spool.h"
#include "worker/qmgr.h"

/* Header bytes read for the hop count; a longer header is cut there. */
#define HOPS_HEADER_MAX (256 * 1024)
/* Largest notification, original message included. */
#define BOUNCE_MAX (8u * 1024 * 1024)

static int
queue_notification(struct qmgr *q, const struct spool_message *msg, struct buf *text,
    char id_r[SPOOL_ID_SIZE])
{
	struct pool *pool = pool_new(0);
	struct spool_envelope env;
	struct spool_writer *w = NULL;
	int rc = -1;

	spool_envelope_init(&env);
	env.sender = str_from_cstr("");
	env.arrival = (int64_t)time(NULL);
	env.client_ip = str_from_cstr("127.0.0.1");
	env.helo = str_from_cstr(q->mta->myhostname);
	if (spool_envelope_add_rcpt(pool, &env, msg->env.sender, msg->env.sender) != NULL &&
	    spool_writer_begin(q->spool, 0, &w) == 0 &&
	    spool_writer_write(w, text->data, text->len) == 0 &&
	    spool_writer_commit(&w, &env, id_r, NULL) == 0)
		rc = 0;
	if (w != NULL)
		spool_writer_abort(&w);
	pool_free(&pool);
	return rc;
}

static size_t
fill_rcpts(const struct spool_message *msg, const bool *which, struct dsn_rcpt *out)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->env.rcpt_count; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];

		if (!which[i])
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].orig = r->orig;
		out[n].addr = r->addr;
		out[n].reply = r->reply;
		n++;
	}
	return n;
}

int
qmgr_bounce(struct qmgr *q, struct spool_message *msg, bool delayed, const bool *which)
{
	struct dsn_rcpt *rcpts;
	struct dsn_message m;
	struct buf orig, text;
	const char *err = "?";
	char id[SPOOL_ID_SIZE];
	int rc = -1;

	if (!dsn_should_bounce(msg->env.sender)) {
		log_info("qmgr", msg->id, "from=<> undeliverable notification dropped");
		return 1;
	}
	rcpts = xcalloc(msg->env.rcpt_count, sizeof(*rcpts));
	memset(&m, 0, sizeof(m));
	m.kind = delayed ? DSN_DELAYED : DSN_FAILED;
	m.queue_id = msg->id;
	m.myhostname = q->mta->myhostname;
	m.sender = msg->env.sender;
	m.arrival = msg->env.arrival;
	m.now = (int64_t)time(NULL);
	if (delayed)
		m.will_retry_until = msg->env.arrival + (int64_t)q->mta->maximal_queue_lifetime;
	m.rcpts = rcpts;
	m.rcpt_count = fill_rcpts(msg, which, rcpts);
	buf_init(&orig, 0);
	buf_init(&text, BOUNCE_MAX);
	if (m.rcpt_count == 0) {
		rc = 1;
	} else if (dsn_load_original(msg->fd, msg->body_offset, msg->body_len, 0, &orig) < 0) {
		err = "cannot read the original";
	} else {
		m.original = str_make(orig.data, orig.len);
		m.original_size = msg->body_len;
		if (dsn_build(&m, &text, &err) < 0) {
			/* err set by the builder */
		} else if (queue_notification(q, msg, &text, id) < 0) {
			err = "cannot queue it";
		} else {
			log_info("qmgr", msg->id, "sender %s notification: %s",
			    delayed ? "delay" : "non-delivery", id);
			rc = 0;
		}
	}
	if (rc < 0)
		log_error("qmgr", msg->id, "cannot make the %s notification: %s",
		    delayed ? "delay" : "non-delivery", err);
	buf_deinit(&orig);
	buf_deinit(&text);
	free(rcpts);
	return rc;
}

/* Does the header line at p[0..len) start with "Received:"? */
static bool
is_received(const char *p, size_t len)
{
	return len >= 9 && str_has_prefix_case(str_make(p, len), "received:");
}

int
qmgr_count_hops(const struct spool_message *msg)
{
	size_t want = (size_t)MIN(msg->body_len, (uint64_t)HOPS_HEADER_MAX);
	char *h = xmalloc(want + 1);
	ssize_t got = pread(msg->fd, h, want, msg->body_offset);
	size_t pos = 0;
	int hops = 0;

	if (got < 0) {
		free(h);
		return -1;
	}
	while (pos < (size_t)got) {
		const char *eol = memchr(h + pos, '\n', (size_t)got - pos);
		size_t len = eol != NULL ? (size_t)(eol - (h + pos)) : (size_t)got - pos;

		if (len == 0 || (len == 1 && h[pos] == '\r'))
			break; /* end of the header section */
		hops += is_received(h + pos, len);
		pos += len + 1;
	}
	free(h);
	return hops;
}
