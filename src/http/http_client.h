/*
 * http_client.h - small HTTP/1.1 client for the command-line tools.
 *
 * Each request opens its own connection (Connection: close), sends the
 * request with Content-Length, and reads the reply until its
 * Content-Length / last chunk or the server's close. Targets are
 * "host:port", "[v6addr]:port", "v4addr:port" or a unix socket path (any
 * target starting with '/' or '.'). No TLS.
 *
 * Two drivers: http_client_request() is blocking (one request), and
 * http_client_run_many() runs a batch with at most `max_parallel`
 * connections open at once using poll() (rspamc -n), calling an optional
 * callback as each job finishes. Both honour the timeout per request,
 * counted as total time for the request.
 */
#ifndef HTTP_HTTP_CLIENT_H
#define HTTP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http_parser.h"

struct pool;

struct http_client_response {
	int status;
	int version_minor;
	struct str reason;
	struct http_header *headers; /* in `pool` */
	unsigned n_headers;
	const char *body;            /* in `pool`, NUL-terminated; "" if empty */
	size_t body_len;
	struct pool *pool;           /* owns everything above */
};

/* Frees the response's pool and zeroes it. Accepts a zeroed response. */
void http_client_response_free(struct http_client_response *resp);

/* Header lookup on a response (case-insensitive); NULL if absent. */
const struct http_header *http_client_response_header(
    const struct http_client_response *resp, const char *name);

/*
 * One blocking request. `headers` (borrowed) are sent as given after our
 * own Host (unless the caller passes one), Connection: close and
 * Content-Length (always sent for non-GET or non-empty bodies). Returns 0
 * with *resp_r filled (any HTTP status, 200 or not: check resp_r->status),
 * or -1 with a heap message in *error_r (caller frees) on connect, I/O,
 * timeout or parse failure.
 */
int http_client_request(const char *hostport_or_unix_path, double timeout_s,
    const char *method, const char *path,
    const struct http_header *headers, size_t n,
    const void *body, size_t len,
    struct http_client_response *resp_r, char **error_r);

struct http_client_job {
	/* input (all borrowed until the job finishes) */
	const char *target;
	double timeout_s;
	const char *method;
	const char *path;
	const struct http_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	void *user;
	bool http10;      /* send "HTTP/1.0" and no Host, as rspamc 3.4 does */
	/* output */
	int result;                        /* 0 ok, -1 failed (see error) */
	struct http_client_response resp;  /* when result == 0; caller frees */
	char *error;                       /* heap, when result == -1; caller frees */
};

/*
 * Run all `n` jobs, at most `max_parallel` (0 = 8) connections at a time,
 * in order of start. `done`, if set, is called as each job finishes (with
 * its output filled). Returns the number of failed jobs.
 */
size_t http_client_run_many(struct http_client_job *jobs, size_t n,
    unsigned max_parallel,
    void (*done)(struct http_client_job *job, void *ud), void *ud);

#endif
