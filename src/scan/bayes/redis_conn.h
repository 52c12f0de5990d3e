/*
 * redis_conn.h - one Redis server reached through hiredis on a libev loop:
 * connect (TCP or unix socket), AUTH, SELECT, connect and command
 * timeouts, and reconnection with backoff when the server goes away.
 *
 * It lives in scan/bayes/ rather than event/ because only the scan area
 * links hiredis (STYLE.md part C puts it in event/ eventually).
 *
 * A connection belongs to one worker process and one loop; it must be
 * created after fork. Commands are handed to hiredis at once (hiredis
 * buffers them while the connection is being set up, behind AUTH and
 * SELECT, so they go out in submission order). Every command's callback
 * runs exactly once, from the loop, unless the command was cancelled:
 *   - rc 0 with the reply (which may be an error reply: REDIS_REPLY_ERROR),
 *   - rc -1 with reply NULL when the command could not be answered: the
 *     connection broke, the command timed out, or the server is known to be
 *     down (waiting for the next reconnection attempt: such commands fail
 *     on the next loop iteration instead of waiting for the timeout).
 * A command timeout drops the connection (a server that does not answer
 * one command does not answer the ones behind it either), so the other
 * commands in flight fail with it; reconnection follows with backoff
 * (0.1 s doubling up to 5 s, reset after a successful AUTH/SELECT/PING).
 */
#ifndef SCAN_BAYES_REDIS_CONN_H
#define SCAN_BAYES_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

struct ev_loop;
struct obj;

struct redis_conn_settings {
	char *host;        /* NULL when socket_path is set */
	int port;
	char *socket_path; /* unix socket, or NULL */
	char *username;    /* ACL user (Redis 6+), or NULL */
	char *password;    /* NULL: no AUTH */
	int db;            /* 0: no SELECT */
	double connect_timeout; /* seconds */
	double command_timeout;
};

/*
 * Parses one server address: "host:port", "host" (port 6379),
 * "[v6addr]:port", "/path/to/socket". A list ("a:1, b:2" or an array)
 * gives its first element. Fills host/port/socket_path of *s (heap
 * strings). Returns 0, or -1 with a static *error_r.
 */
int redis_conn_parse_server(const struct obj *servers, struct redis_conn_settings *s,
    const char **error_r);
/* Frees the strings of *s and zeroes it. */
void redis_conn_settings_deinit(struct redis_conn_settings *s);
/* Deep copy of the strings. */
void redis_conn_settings_copy(struct redis_conn_settings *dst,
    const struct redis_conn_settings *src);

struct redis_conn;
struct redis_req;

typedef void redis_conn_reply_cb(int rc, const redisReply *reply, void *ud);

/* Starts connecting at once. Copies settings. Never NULL. */
struct redis_conn *redis_conn_new(struct ev_loop *loop, const struct redis_conn_settings *s);
/* Drops the connection; no callback of a pending command is called. */
void redis_conn_free(struct redis_conn **conn);
/* "host:port" or the socket path, for log lines. Borrowed. */
const char *redis_conn_name(const struct redis_conn *conn);
/* True while a connection is established and set up. */
bool redis_conn_is_ready(const struct redis_conn *conn);

/*
 * Sends one command (argv copied by hiredis before returning). Returns a
 * handle for redis_conn_cancel(), valid until the callback runs.
 */
struct redis_req *redis_conn_command(struct redis_conn *conn, int argc, const char **argv,
    const size_t *argvlen, redis_conn_reply_cb *cb, void *ud);
/* The callback of `req` will not be called. */
void redis_conn_cancel(struct redis_conn *conn, struct redis_req *req);

#endif
