/*
 * controller_internal.h - state of the controller worker shared by its
 * files: worker_controller.c (routing, life cycle), controller_auth.c
 * (passwords, secure_ip, failure delays), controller_stat.c (/stat,
 * /auth, /statreset), controller_learn.c (/learnspam, /learnham),
 * controller_queue.c (/queue), controller_ui.c (dashboard and settings),
 * controller_maps.c (list files) and controller_csrf.c (cross-site
 * request refusal).
 */
#ifndef WORKER_CONTROLLER_INTERNAL_H
#define WORKER_CONTROLLER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;
struct http_server;
struct netmask;
struct worker_ctx;

/* Remembered KDF outcomes: a $2$ check costs tens of milliseconds. */
#define CTRL_PW_CACHE 16
/* Per-IP failure records kept for logging and throttling. */
#define CTRL_FAIL_SLOTS 64

struct ctrl_pw_cache_entry {
	uint8_t given[32];   /* SHA-256 of the supplied password */
	bool used;
	bool match;
};

struct ctrl_password {
	const char *value;   /* as configured: plaintext or $n$ hash; NULL unset */
	bool hashed;
	uint8_t plain_digest[32];
	struct ctrl_pw_cache_entry cache[CTRL_PW_CACHE];
	unsigned cache_next;
};

struct ctrl_failure {
	char ip[48];
	unsigned count;
	double last;
};

struct controller {
	struct worker_ctx *ctx;
	struct http_server *srv;
	struct netmask *secure;
	size_t n_secure;
	struct ctrl_password password;
	struct ctrl_password enable_password;
	double fail_delay;   /* seconds before a wrong-password reply */
	double fail_window;  /* auth_failure_window */
	struct ctrl_failure failures[CTRL_FAIL_SLOTS];
	char config_id[64];
};

enum ctrl_access {
	CTRL_ACCESS_NONE,     /* /ping */
	CTRL_ACCESS_READ,     /* password or enable_password */
	CTRL_ACCESS_PRIV,     /* enable_password (or password in legacy mode) */
};

enum ctrl_auth {
	CTRL_AUTH_OK,
	CTRL_AUTH_OK_READ_ONLY, /* only `password` matched, enable_password exists */
	CTRL_AUTH_MISSING,      /* 401: a password is required and none was sent */
	CTRL_AUTH_WRONG,        /* 403 after the failure delay */
	CTRL_AUTH_NOT_ENOUGH,   /* 403 at once: a valid read-only password */
};

/* controller_auth.c */
void controller_auth_init(struct controller *c);
void controller_auth_deinit(struct controller *c);
enum ctrl_auth controller_authorize(struct controller *c, struct http_request *req,
    enum ctrl_access need);
/* Answers a refused request: 401 now, or 403 later from a timer. */
void controller_auth_refuse(struct controller *c, struct http_request *req,
    enum ctrl_auth why);

/* controller_stat.c */
void controller_config_id(struct controller *c);
void controller_stat(struct controller *c, struct http_request *req, bool read_only,
    bool reset);
void controller_auth_reply(struct controller *c, struct http_request *req, bool read_only);

/* controller_learn.c */
void controller_learn(struct controller *c, struct http_request *req, bool spam);

/* controller_queue.c: GET /queue[/<id>], POST /queue/flush,
 * POST /queue/<id>/{delete,hold,release}; reached with READ access,
 * POSTs are re-checked for PRIV there. */
void controller_queue(struct controller *c, struct http_request *req);

/* controller_csrf.c: 0, or -1 after refusing a cross-site or form
 * request (403). See the comment there. */
int controller_csrf_check(struct http_request *req, enum ctrl_access need);

/* controller_ui.c: the web UI's dashboard and settings endpoints. */
void controller_graph(struct controller *c, struct http_request *req);
void controller_pie(struct controller *c, struct http_request *req);
void controller_history(struct controller *c, struct http_request *req);
void controller_history_reset(struct controller *c, struct http_request *req);
void controller_errors(struct controller *c, struct http_request *req);
void controller_neighbours(struct controller *c, struct http_request *req);
void controller_symbols(struct controller *c, struct http_request *req);
void controller_actions(struct controller *c, struct http_request *req);
void controller_saveactions(struct controller *c, struct http_request *req);
void controller_savesymbols(struct controller *c, struct http_request *req);

/* controller_maps.c: /maps, /getmap, /savemap. */
void controller_maps(struct controller *c, struct http_request *req);
void controller_getmap(struct controller *c, struct http_request *req);
void controller_savemap(struct controller *c, struct http_request *req);

/* controller_metrics.c: /metrics, the counters in Prometheus text format. */
void controller_metrics(struct controller *c, struct http_request *req);

/* worker_controller.c: JSON answer with the controller's extra headers;
 * the reason phrase is `reason` (NULL: standard one). */
void controller_reply_json(struct http_request *req, int status, const char *reason,
    const char *json, size_t len);
/* 200 with `*o` as compact JSON; frees *o. */
struct obj;
void controller_reply_obj(struct http_request *req, struct obj **o);
/* {"error": message} with `message` as the reason phrase. */
void controller_reply_error(struct http_request *req, int status, const char *message);

#endif
