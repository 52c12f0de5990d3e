/*
 * listen.h - Rspamd bind_socket strings to listening sockets.
 *
 * Accepted forms:
 *   "127.0.0.1:11333", "[::1]:11333"    one address
 *   "localhost:11333"                   127.0.0.1 and ::1 (::1 skipped
 *                                       silently when IPv6 fails)
 *   "*:11333"                           0.0.0.0 and :: (v6-only set; :: is
 *                                       skipped silently when IPv6 fails)
 *   "/path/to.sock", "/path/to.sock mode=0666"  unix socket; a stale
 *                                       socket file is unlinked first
 * Other host names are resolved with getaddrinfo(); every address is bound.
 * Sockets are non-blocking, SO_REUSEADDR, backlog 1024, and deliberately
 * NOT close-on-exec: the supervisor forks workers that inherit them.
 */
#ifndef EVENT_LISTEN_H
#define EVENT_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#define LISTEN_BACKLOG 1024

/*
 * Parse `spec` and bind/listen every address it names. On success returns
 * 0 with a heap array of fds in *fds_r (caller frees the array and closes
 * the fds). On failure returns -1 with a heap message in *error_r (caller
 * frees) and no fd left open.
 */
int listen_parse_and_bind(const char *spec, int **fds_r, size_t *n_r, char **error_r);

/*
 * Canonical key for a spec, for reusing sockets across config reloads:
 * e.g. "inet:127.0.0.1:11333", "localhost:11333" -> "inet:127.0.0.1:11333
 * inet6:[::1]:11333", "unix:/run/x.sock mode=0660". No DNS beyond
 * "localhost" and literals (other names key as "host:NAME:PORT").
 * Returns a heap string (caller frees) or NULL with *error_r (heap).
 */
char *listen_spec_key(const char *spec, char **error_r);

/* 1 when both specs name the same sockets, 0 when not, -1 if unparsable. */
int listen_spec_equal(const char *a, const char *b);

#endif
