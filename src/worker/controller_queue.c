/*
 * controller_queue.c - the mail queue in the controller's HTTP API, for
 * the web UI. Same data and same operations as `rspamadm queue`
 * (both call queue/queue_admin.c):
 *
 *   GET  /queue                JSON array, the objects of `queue list -j`
 *   GET  /queue/<id>           one message: listing fields, client_ip,
 *                              helo, auth_user, attrs, "headers"
 *   POST /queue/flush          deferred -> incoming  {"success":true,"moved":N}
 *   POST /queue/<id>/delete    {"success":true}
 *   POST /queue/<id>/hold      {"success":true}
 *   POST /queue/<id>/release   {"success":true}
 *
 * Access: the route table lets /queue in with the read password (as
 * /stat); every POST is checked again here for the enable password (as
 * /learnspam), so a read-only password can look but not change. Errors:
 * 400 invalid id or unknown action, 404 not in the queue, 405 wrong
 * method, 409 being delivered (active queue), 500 spool failure; the body
 * is {"error": "..."}.
 *
 * The spool is opened per request: these calls are rare, and it keeps
 * the controller from holding queue state the qmgr might invalidate.
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "http/http_server.h"
#include "log/log.h"
#include "queue/queue_admin.h"
#include "queue/spool.h"
#include "worker/controller_internal.h"
#include "worker/worker.h"

#include <stdlib.h>
#include <string.h>

static void
reply_success(struct http_request *req, const char *key, int64_t n)
{
	struct obj *o = obj_new_object();

	obj_object_append(o, "success", obj_new_bool(true));
	if (key != NULL)
		obj_object_append(o, key, obj_new_int(n));
	controller_reply_obj(req, &o);
}

static void
reply_admin_err(struct http_request *req, enum queue_admin_err err)
{
	int status = 500;

	switch (err) {
	case QUEUE_ADMIN_INVALID_ID:
		status = 400;
		break;
	case QUEUE_ADMIN_NOT_FOUND:
	case QUEUE_ADMIN_CORRUPT:
		status = 404;
		break;
	case QUEUE_ADMIN_BUSY:
		status = 409;
		break;
	default:
		break;
	}
	controller_reply_error(req, status, queue_admin_strerror(err));
}

/* Splits "/queue/a/b" into up to two segments after "queue". */
static size_t
split_path(struct str path, struct str seg[2])
{
	size_t n = 0, i = 0, start;

	/* skip "/queue" (the router matched it case-insensitively) */
	while (i < path.len && path.ptr[i] == '/')
		i++;
	while (i < path.len && path.ptr[i] != '/')
		i++;
	while (i < path.len) {
		while (i < path.len && path.ptr[i] == '/')
			i++;
		if (i >= path.len)
			break;
		start = i;
		while (i < path.len && path.ptr[i] != '/')
			i++;
		if (n == 2)
			return 3; /* too many segments */
		seg[n++] = str_make(path.ptr + start, i - start);
	}
	return n;
}

static struct spool *
open_spool(struct controller *c, struct http_request *req)
{
	struct spool *spool = NULL;
	char *root = xasprintf("%s/spool", c->ctx->cfg->state_dir), *err = NULL;

	if (spool_open(root, &spool, &err) < 0) {
		log_error("controller", NULL, "queue: %s", err != NULL ? err : root);
		controller_reply_error(req, 500, "cannot open the spool");
		spool = NULL;
	}
	free(err);
	free(root);
	return spool;
}

static void
queue_get(struct spool *spool, struct http_request *req, size_t n,
    struct str *seg)
{
	enum queue_admin_err err = QUEUE_ADMIN_INVALID_ID;
	struct obj *o;
	char *id;

	if (n == 0) {
		o = queue_admin_list(spool);
		controller_reply_obj(req, &o);
		return;
	}
	if (n != 1) {
		controller_reply_error(req, 400, "unknown queue request");
		return;
	}
	id = str_dup_cstr(req->pool, seg[0]);
	o = id != NULL && spool_id_valid(id) ?
	    queue_admin_show(spool, id, false, 0, &err) : NULL;
	if (o == NULL)
		reply_admin_err(req, err);
	else
		controller_reply_obj(req, &o);
}

static void
queue_post(struct spool *spool, struct http_request *req, size_t n,
    struct str *seg)
{
	enum queue_admin_err err = QUEUE_ADMIN_INVALID_ID;
	unsigned moved = 0;
	char *id;
	int rc = -1;

	if (n == 1 && str_eq_cstr(seg[0], "flush")) {
		if (queue_admin_flush(spool, &moved) < 0)
			controller_reply_error(req, 500, "flush failed for some messages");
		else
			reply_success(req, "moved", moved);
		return;
	}
	if (n != 2) {
		controller_reply_error(req, 400, "unknown queue action");
		return;
	}
	id = str_dup_cstr(req->pool, seg[0]);
	if (id == NULL || !spool_id_valid(id)) {
		reply_admin_err(req, QUEUE_ADMIN_INVALID_ID);
		return;
	}
	if (str_eq_cstr(seg[1], "delete"))
		rc = queue_admin_delete(spool, id, &err);
	else if (str_eq_cstr(seg[1], "hold"))
		rc = queue_admin_hold(spool, id, &err);
	else if (str_eq_cstr(seg[1], "release"))
		rc = queue_admin_release(spool, id, &err);
	else {
		controller_reply_error(req, 400, "unknown queue action");
		return;
	}
	if (rc < 0) {
		reply_admin_err(req, err);
		return;
	}
	log_info("controller", id, "queue: %.*s by %s", (int)seg[1].len,
	    seg[1].ptr, req->peer_text);
	reply_success(req, NULL, 0);
}

void
controller_queue(struct controller *c, struct http_request *req)
{
	struct str seg[2];
	size_t n = split_path(req->msg->path, seg);
	bool post = str_case_eq_cstr(req->msg->method, "POST");
	struct spool *spool;
	enum ctrl_auth auth;

	if (!post && !str_case_eq_cstr(req->msg->method, "GET")) {
		controller_reply_error(req, 405, "use GET or POST");
		return;
	}
	if (n > 2) {
		controller_reply_error(req, 400, "unknown queue request");
		return;
	}
	if (post) {
		/* Writes need what /learnspam needs, not just /stat's level. */
		auth = controller_authorize(c, req, CTRL_ACCESS_PRIV);
		if (auth != CTRL_AUTH_OK) {
			controller_auth_refuse(c, req, auth);
			return;
		}
	}
	spool = open_spool(c, req);
	if (spool == NULL)
		return;
	if (post)
		queue_post(spool, req, n, seg);
	else
		queue_get(spool, req, n, seg);
	spool_close(&spool);
}
