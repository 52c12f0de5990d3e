/*
 * http_server.h - the HTTP/1.x server of one worker process.
 *
 * The server accepts on listening fds it is given (it never closes them:
 * the supervisor owns them), runs one buffered connection + parser per
 * client on the worker's loop, and hands each complete request to the
 * handler. Requests on one connection are answered strictly in order:
 * while a request is being handled, later pipelined bytes wait in the
 * buffer (reading pauses when it fills). Keep-alive is supported.
 *
 * The handler answers with exactly one http_reply*() call, either before
 * returning or later from another callback (async scans). The request, its
 * message and its pool stay valid until then, even if the client has gone
 * (the reply is then dropped). Bad input gets an error reply with the
 * parser's status and the connection is closed; one bad client never
 * affects the others.
 */
#ifndef HTTP_HTTP_SERVER_H
#define HTTP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/http_parser.h"

struct ev_loop;
struct pool;
struct http_server;
struct http_conn; /* private */

struct http_server_settings {
	double timeout;            /* idle keep-alive / request read / write stall; 0 = 60 s */
	size_t max_header_bytes;   /* 0 = 64 KiB */
	unsigned max_headers;      /* 0 = 100 */
	size_t max_body;           /* 0 = 50 MiB */
	unsigned max_connections;  /* 0 = 10000; beyond it new clients are closed */
	unsigned max_keepalive_requests; /* per connection; 0 = unlimited */
	size_t request_pool_cap;   /* 0 = unlimited */
	bool no_keep_alive;        /* always "Connection: close" (Rspamd 3.4 behaviour) */
	const char *server_name;   /* Server: header; NULL = "rspamd/3.4-compat"; borrowed */
	const char *log_component; /* NULL = "http" */
	/* Whole-request read limit (slow-drip clients that never trip the
	 * idle timeout); 0 = 4 * timeout. Answered with 408 and close. */
	double request_timeout;
};

struct http_request {
	const struct http_message *msg;   /* borrowed from the connection */
	struct pool *pool;                /* freed after the reply is sent */
	const char *peer_text;            /* "1.2.3.4", "::1" or "unix:" */
	bool peer_is_unix;
	const struct sockaddr_storage *peer;
	size_t listener_index;            /* which of the fds accepted it */
	uint64_t id;                      /* per server, for logs */
	double start_time;                /* ev_now() when the head was complete */
	void *user;                       /* free for the handler */
	struct http_conn *conn;           /* private */
};

typedef void http_handler_fn(struct http_request *req, void *ud);

/*
 * Start serving on `fds` (borrowed; copied). `s` is copied (server_name is
 * borrowed). NULL `s` means all defaults.
 */
struct http_server *http_server_new(struct ev_loop *loop, const int *fds,
    size_t n_fds, const struct http_server_settings *s,
    http_handler_fn *handler, void *ud);
/* Closes all connections (in-flight requests are orphaned: the handler must
 * not reply to them afterwards) and frees the server. Accepts NULL. */
void http_server_free(struct http_server **srv);

/*
 * Graceful stop: stop accepting, close idle connections now, and make every
 * in-flight request the last on its connection. http_server_active() then
 * reaches 0 as those finish; `done`, if set, is called once when it does
 * (possibly immediately, from inside this call).
 */
void http_server_stop_accepting(struct http_server *srv,
    void (*done)(struct http_server *srv, void *ud), void *ud);
/* Open client connections. */
unsigned http_server_active(const struct http_server *srv);

struct http_server_stats {
	uint64_t requests;        /* complete requests handed to the handler */
	uint64_t connections;     /* accepted in total */
	unsigned active;          /* open now */
	unsigned inflight;        /* requests waiting for a reply */
	uint64_t bad_requests;    /* parser errors answered with 4xx/5xx */
	uint64_t timeouts;
};
void http_server_get_stats(const struct http_server *srv, struct http_server_stats *r);

/*
 * Answer `req` (which is freed by this call: do not touch it afterwards).
 * Adds Content-Length, Server, Date, Content-Type (if not NULL) and
 * Connection; `reason` NULL = standard phrase. extra_headers are borrowed.
 */
void http_reply(struct http_request *req, int status, const char *reason,
    const char *content_type, const struct http_header *extra_headers,
    size_t n_extra, const void *body, size_t len);
/* {"error":message,"error_domain":domain} as application/json; the status
 * reason phrase is `message`. domain NULL = "protocol-error". */
void http_reply_json_error(struct http_request *req, int status,
    const char *message, const char *domain);
/* Raw bytes, no HTTP framing (legacy RSPAMC replies); close after drain
 * when `close` (legacy clients always want close). */
void http_reply_raw(struct http_request *req, const void *bytes, size_t len, bool close);

/* True when the client disconnected while the request was in flight. */
bool http_request_client_gone(const struct http_request *req);

#endif
