/*
 * queue_admin.c - the operator's view of the spool: listing, showing,
 * flushing, deleting, holding and releasing messages. Both the
 * rspamadm command and the controller call these, so what an operator
 * sees on the command line and in the web UI cannot drift apart.
 *
 * The queue manager may be running while these functions work. They only
 * use the spool's atomic operations (rename, unlink), never touch
 * active/ for writing, and treat a message that disappears between
 * listing and opening as already handled rather than as an error.
 */
#include "queue/queue_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"

/* Queues that hold live messages, in the order they are listed. */
static const enum spool_queue live_queues[] = {
	SPOOL_INCOMING, SPOOL_ACTIVE, SPOOL_DEFERRED, SPOOL_HOLD,
};

const char *
queue_admin_strerror(enum queue_admin_err err)
{
	switch (err) {
	case QUEUE_ADMIN_OK:
		return "success";
	case QUEUE_ADMIN_INVALID_ID:
		return "invalid queue id";
	case QUEUE_ADMIN_NOT_FOUND:
		return "no such message in the queue";
	case QUEUE_ADMIN_BUSY:
		return "message is being delivered (active queue, owned by "
		    "the queue manager); try again shortly";
	case QUEUE_ADMIN_CORRUPT:
		return "queue file is damaged (moved to corrupt/)";
	case QUEUE_ADMIN_IO:
		return "queue file operation failed";
	}
	return "unknown error";
}

static enum queue_admin_err
map_err(enum spool_err e)
{
	switch (e) {
	case SPOOL_ERR_NONE:
		return QUEUE_ADMIN_OK;
	case SPOOL_ERR_INVALID_ID:
		return QUEUE_ADMIN_INVALID_ID;
	case SPOOL_ERR_NOT_FOUND:
		return QUEUE_ADMIN_NOT_FOUND;
	case SPOOL_ERR_CORRUPT:
		return QUEUE_ADMIN_CORRUPT;
	case SPOOL_ERR_TOO_BIG:
	case SPOOL_ERR_IO:
		break;
	}
	return QUEUE_ADMIN_IO;
}

static struct obj *
str_obj(struct str s)
{
	return obj_new_stringn(s.ptr != NULL ? s.ptr : "", s.len);
}

/* The listing fields of one opened message. */
static struct obj *
message_obj(const struct spool_message *msg)
{
	const struct spool_envelope *env = &msg->env;
	struct obj *o = obj_new_object(), *rcpts = obj_new_array();
	uint64_t attempts = 0, next = 0;
	size_t i;

	(void)spool_envelope_get_attr_u64(env, "attempts", &attempts);
	(void)spool_envelope_get_attr_u64(env, "next_attempt", &next);
	obj_object_append(o, "queue_name",
	    obj_new_string(spool_queue_name(msg->queue)));
	obj_object_append(o, "queue_id", obj_new_string(msg->id));
	obj_object_append(o, "arrival_time", obj_new_int(env->arrival));
	obj_object_append(o, "message_size", obj_new_int((int64_t)msg->body_len));
	obj_object_append(o, "sender", str_obj(env->sender));
	obj_object_append(o, "attempts", obj_new_int((int64_t)attempts));
	obj_object_append(o, "next_attempt", obj_new_int((int64_t)next));
	obj_object_append(o, "junk", obj_new_bool(
	    (env->flags & SPOOL_FLAG_JUNK) != 0));
	for (i = 0; i < env->rcpt_count; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		struct obj *ro = obj_new_object();

		obj_object_append(ro, "address", str_obj(r->addr));
		obj_object_append(ro, "orig_address", str_obj(r->orig));
		obj_object_append(ro, "status",
		    obj_new_string(spool_rcpt_status_name(r->status)));
		obj_object_append(ro, "delay_reason", str_obj(r->reply));
		obj_array_append(rcpts, ro);
	}
	obj_object_append(o, "recipients", rcpts);
	return o;
}

struct list_ctx {
	struct spool *spool;
	enum spool_queue queue;
	struct obj **items;
	size_t count, cap;
};

static int
list_one(const char *id, void *ud)
{
	struct list_ctx *c = ud;
	struct pool *pool = pool_new(0);
	struct spool_message msg;

	/* Gone meanwhile (delivered, moved): not an error, just skipped. */
	if (spool_open_message(c->spool, c->queue, id, pool, &msg, NULL) == 0) {
		c->items = xgrow(c->items, &c->cap, c->count + 1,
		    sizeof(*c->items));
		c->items[c->count++] = message_obj(&msg);
		spool_message_close(&msg);
	}
	pool_free(&pool);
	return 0;
}

static int64_t
arrival_of(const struct obj *o)
{
	int64_t t = 0;

	(void)obj_get_int(obj_lookup(o, "arrival_time"), &t);
	return t;
}

static int
cmp_arrival(const void *a, const void *b)
{
	int64_t ta = arrival_of(*(struct obj *const *)a);
	int64_t tb = arrival_of(*(struct obj *const *)b);

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(obj_get_string(obj_lookup(*(struct obj *const *)a,
	    "queue_id")), obj_get_string(obj_lookup(*(struct obj *const *)b,
	    "queue_id")));
}

struct obj *
queue_admin_list(struct spool *spool)
{
	struct list_ctx c = { .spool = spool };
	struct obj *arr = obj_new_array();
	size_t i;

	for (i = 0; i < ARRAY_SIZE(live_queues); i++) {
		c.queue = live_queues[i];
		(void)spool_list(spool, c.queue, list_one, &c);
	}
	if (c.count > 1)
		qsort(c.items, c.count, sizeof(*c.items), cmp_arrival);
	for (i = 0; i < c.count; i++)
		obj_array_append(arr, c.items[i]);
	free(c.items);
	return arr;
}

/* Finds and opens id in whichever live queue holds it. */
static int
open_any(struct spool *spool, const char *id, struct pool *pool,
    struct spool_message *msg_r, enum queue_admin_err *err_r)
{
	enum spool_queue q;
	enum spool_err se = SPOOL_ERR_NOT_FOUND;
	int tries;

	if (!spool_id_valid(id)) {
		*err_r = QUEUE_ADMIN_INVALID_ID;
		return -1;
	}
	/* The qmgr may move the file between find and open: look again. */
	for (tries = 0; tries < 3; tries++) {
		if (spool_find(spool, id, &q) < 0 || q == SPOOL_CORRUPT)
			break;
		if (spool_open_message(spool, q, id, pool, msg_r, &se) == 0) {
			*err_r = QUEUE_ADMIN_OK;
			return 0;
		}
		if (se != SPOOL_ERR_NOT_FOUND)
			break;
	}
	*err_r = map_err(se);
	return -1;
}

/* Reads len bytes at off into a heap string (NUL-terminated). */
static char *
read_at(int fd, off_t off, size_t len)
{
	char *p = xmalloc(len + 1);
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	return p;
}

/* Length of the header section (through the blank line) in data. */
static size_t
header_section_len(const char *data, size_t len)
{
	const char *p = memmem(data, len, "\r\n\r\n", 4);
	const char *q = memmem(data, len, "\n\n", 2);

	if (p != NULL && (q == NULL || p < q))
		return (size_t)(p - data) + 4;
	if (q != NULL)
		return (size_t)(q - data) + 2;
	return len;
}

static void
add_details(struct obj *o, const struct spool_message *msg)
{
	const struct spool_envelope *env = &msg->env;
	struct obj *attrs = obj_new_object();
	size_t i;

	obj_object_append(o, "client_ip", str_obj(env->client_ip));
	obj_object_append(o, "helo", str_obj(env->helo));
	obj_object_append(o, "auth_user", str_obj(env->auth_user));
	for (i = 0; i < env->attr_count; i++)
		obj_object_setn(attrs, env->attrs[i].key.ptr, env->attrs[i].key.len,
		    str_obj(env->attrs[i].value));
	obj_object_append(o, "attrs", attrs);
}

/* Header sections larger than this are cut in a `show` (not whole). */
#define QUEUE_ADMIN_HEADERS_MAX (256u * 1024)

struct obj *
queue_admin_show(struct spool *spool, const char *id, bool whole,
    uint64_t max_bytes, enum queue_admin_err *err_r)
{
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	struct obj *o = NULL;
	uint64_t cap = whole ? (max_bytes != 0 ? max_bytes : UINT64_MAX) :
	    QUEUE_ADMIN_HEADERS_MAX;
	size_t n;
	char *data;

	if (open_any(spool, id, pool, &msg, err_r) == 0) {
		o = message_obj(&msg);
		add_details(o, &msg);
		n = (size_t)MIN(msg.body_len, cap);
		data = read_at(msg.fd, msg.body_offset, n);
		if (whole) {
			obj_object_append(o, "message", obj_new_stringn(data, n));
		} else {
			obj_object_append(o, "headers",
			    obj_new_stringn(data, header_section_len(data, n)));
		}
		obj_object_append(o, "truncated", obj_new_bool(n < msg.body_len &&
		    (whole || header_section_len(data, n) == n)));
		free(data);
		spool_message_close(&msg);
	}
	pool_free(&pool);
	return o;
}

static int
cat_envelope(const struct spool_message *msg, struct buf *out)
{
	const struct spool_envelope *env = &msg->env;
	int rc = 0;
	size_t i;

	rc |= buf_printf(out, "*** ENVELOPE RECORDS %s ***\n", msg->id);
	rc |= buf_printf(out, "queue: %s\nmessage_size: %llu\narrival_time: %lld\n",
	    spool_queue_name(msg->queue), (unsigned long long)msg->body_len,
	    (long long)env->arrival);
	rc |= buf_printf(out, "sender: %.*s\nclient_ip: %.*s\nhelo: %.*s\n"
	    "auth_user: %.*s\nflags: %u\n", (int)env->sender.len,
	    env->sender.ptr, (int)env->client_ip.len, env->client_ip.ptr,
	    (int)env->helo.len, env->helo.ptr, (int)env->auth_user.len,
	    env->auth_user.ptr, env->flags);
	for (i = 0; i < env->attr_count; i++)
		rc |= buf_printf(out, "attr: %.*s=%.*s\n",
		    (int)env->attrs[i].key.len, env->attrs[i].key.ptr,
		    (int)env->attrs[i].value.len, env->attrs[i].value.ptr);
	for (i = 0; i < env->rcpt_count; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];

		rc |= buf_printf(out, "recipient: %.*s (orig %.*s) %s%s%.*s\n",
		    (int)r->addr.len, r->addr.ptr, (int)r->orig.len, r->orig.ptr,
		    spool_rcpt_status_name(r->status), r->reply.len > 0 ? ": " : "",
		    (int)r->reply.len, r->reply.ptr);
	}
	return rc == 0 ? 0 : -1;
}

int
queue_admin_cat(struct spool *spool, const char *id, struct buf *out,
    enum queue_admin_err *err_r)
{
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	char *data;
	int rc = -1;

	if (open_any(spool, id, pool, &msg, err_r) == 0) {
		data = read_at(msg.fd, msg.body_offset, (size_t)msg.body_len);
		if (cat_envelope(&msg, out) == 0 &&
		    buf_printf(out, "*** MESSAGE CONTENTS %s ***\n", msg.id) == 0 &&
		    buf_append(out, data, (size_t)msg.body_len) == 0 &&
		    buf_append_cstr(out, "*** END OF MESSAGE ***\n") == 0)
			rc = 0;
		else
			*err_r = QUEUE_ADMIN_IO;
		free(data);
		spool_message_close(&msg);
	}
	pool_free(&pool);
	return rc;
}

struct move_ctx {
	struct spool *spool;
	enum spool_queue from, to;
	bool remove;
	unsigned count;
	int rc;
};

static int
move_one(const char *id, void *ud)
{
	struct move_ctx *c = ud;
	enum spool_err se = SPOOL_ERR_NONE;
	int r = c->remove ? spool_remove(c->spool, c->from, id, &se) :
	    spool_move(c->spool, id, c->from, c->to, &se);

	if (r == 0)
		c->count++;
	else if (se != SPOOL_ERR_NOT_FOUND)
		c->rc = -1;
	return 0;
}

int
queue_admin_flush(struct spool *spool, unsigned *moved_r)
{
	struct move_ctx c = { .spool = spool, .from = SPOOL_DEFERRED,
		.to = SPOOL_INCOMING };

	if (spool_list(spool, SPOOL_DEFERRED, move_one, &c) < 0)
		c.rc = -1;
	*moved_r = c.count;
	return c.rc;
}

int
queue_admin_delete_all(struct spool *spool, enum spool_queue queue,
    unsigned *deleted_r)
{
	static const enum spool_queue deletable[] = {
		SPOOL_INCOMING, SPOOL_DEFERRED, SPOOL_HOLD };
	struct move_ctx c = { .spool = spool, .remove = true };
	size_t i;

	*deleted_r = 0;
	if (queue != SPOOL_QUEUE_COUNT && queue != SPOOL_INCOMING &&
	    queue != SPOOL_DEFERRED && queue != SPOOL_HOLD)
		return -1;
	for (i = 0; i < ARRAY_SIZE(deletable); i++) {
		if (queue != SPOOL_QUEUE_COUNT && queue != deletable[i])
			continue;
		c.from = deletable[i];
		if (spool_list(spool, c.from, move_one, &c) < 0)
			c.rc = -1;
	}
	*deleted_r = c.count;
	return c.rc;
}

/* Where is id? Sets *err_r for invalid, missing and active ids. */
static int
locate(struct spool *spool, const char *id, enum spool_queue *q_r,
    enum queue_admin_err *err_r)
{
	if (!spool_id_valid(id)) {
		*err_r = QUEUE_ADMIN_INVALID_ID;
		return -1;
	}
	if (spool_find(spool, id, q_r) < 0 || *q_r == SPOOL_CORRUPT) {
		*err_r = QUEUE_ADMIN_NOT_FOUND;
		return -1;
	}
	if (*q_r == SPOOL_ACTIVE) {
		*err_r = QUEUE_ADMIN_BUSY;
		return -1;
	}
	*err_r = QUEUE_ADMIN_OK;
	return 0;
}

int
queue_admin_delete(struct spool *spool, const char *id,
    enum queue_admin_err *err_r)
{
	enum spool_queue q;
	enum spool_err se;

	if (locate(spool, id, &q, err_r) < 0)
		return -1;
	if (spool_remove(spool, q, id, &se) < 0) {
		*err_r = map_err(se);
		return -1;
	}
	return 0;
}

int
queue_admin_hold(struct spool *spool, const char *id,
    enum queue_admin_err *err_r)
{
	enum spool_queue q;
	enum spool_err se;

	if (locate(spool, id, &q, err_r) < 0)
		return -1;
	if (q == SPOOL_HOLD)
		return 0;
	if (spool_move(spool, id, q, SPOOL_HOLD, &se) < 0) {
		*err_r = map_err(se);
		return -1;
	}
	return 0;
}

int
queue_admin_release(struct spool *spool, const char *id,
    enum queue_admin_err *err_r)
{
	enum spool_queue q;
	enum spool_err se;

	if (locate(spool, id, &q, err_r) < 0)
		return -1;
	if (q != SPOOL_HOLD) {
		*err_r = QUEUE_ADMIN_NOT_FOUND;
		return -1;
	}
	if (spool_move(spool, id, SPOOL_HOLD, SPOOL_INCOMING, &se) < 0) {
		*err_r = map_err(se);
		return -1;
	}
	return 0;
}
