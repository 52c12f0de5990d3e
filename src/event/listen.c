/*
 * listen.c - turn Rspamd bind_socket strings into listening sockets.
 *
 * Runs in the supervisor before it forks workers. A spec is first parsed
 * into a list of concrete addresses (struct laddr); binding and the
 * canonical key used to match sockets across reloads are both derived
 * from that list, so "localhost:11333" and "127.0.0.1:11333 + [::1]:11333"
 * compare as the same sockets.
 *
 * File descriptors are deliberately inheritable (no CLOEXEC): workers are
 * forked and keep serving on them. IPv6 addresses that come from a
 * wildcard or "localhost" are optional: a host without IPv6 still starts.
 */
#include "event/listen.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"

#define LISTEN_MAX_ADDRS 16

struct laddr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool optional;     /* failure is skipped silently (IPv6 of a wildcard) */
	int mode;          /* unix sockets: chmod, -1 = leave */
};

struct lspec {
	struct laddr a[LISTEN_MAX_ADDRS];
	size_t n;
	char *name;        /* unresolved host name (key only), or NULL */
	unsigned port;
};

static int
add_addr(struct lspec *ls, const void *sa, socklen_t len, bool optional)
{
	if (ls->n >= LISTEN_MAX_ADDRS)
		return -1;
	memset(&ls->a[ls->n], 0, sizeof(ls->a[0]));
	memcpy(&ls->a[ls->n].ss, sa, len);
	ls->a[ls->n].len = len;
	ls->a[ls->n].optional = optional;
	ls->a[ls->n].mode = -1;
	ls->n++;
	return 0;
}

static void
add_v4(struct lspec *ls, in_addr_t addr, unsigned port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = addr;
	(void)add_addr(ls, &sin, sizeof(sin), false);
}

static void
add_v6(struct lspec *ls, const struct in6_addr *addr, unsigned port, bool optional)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((uint16_t)port);
	sin6.sin6_addr = *addr;
	(void)add_addr(ls, &sin6, sizeof(sin6), optional);
}

static int
parse_unix(struct lspec *ls, const char *spec, char **error_r)
{
	struct sockaddr_un sun;
	const char *sp = strpbrk(spec, " \t");
	size_t plen = sp != NULL ? (size_t)(sp - spec) : strlen(spec);
	int mode = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (plen >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("unix socket path too long: %s", spec);
		return -1;
	}
	memcpy(sun.sun_path, spec, plen);
	while (sp != NULL && *sp != '\0') {
		char *end;
		long m;

		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (*sp == '\0')
			break;
		if (strncmp(sp, "mode=", 5) != 0) {
			*error_r = xasprintf("unknown socket option in '%s'", spec);
			return -1;
		}
		m = strtol(sp + 5, &end, 8);
		if (end == sp + 5 || m < 0 || m > 07777 ||
		    (*end != '\0' && *end != ' ' && *end != '\t')) {
			*error_r = xasprintf("bad mode in '%s'", spec);
			return -1;
		}
		mode = (int)m;
		sp = end;
	}
	(void)add_addr(ls, &sun, sizeof(sun), false);
	ls->a[0].mode = mode;
	return 0;
}

static int
parse_port(const char *s, unsigned *port_r)
{
	uint64_t v;

	/* Port 0 (any free port) is allowed: tests use it. */
	if (str_to_u64(str_from_cstr(s), &v) < 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static int
resolve_name(struct lspec *ls, const char *host, unsigned port, char **error_r)
{
	struct addrinfo hints, *res, *ai;
	char pbuf[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	(void)str_format(pbuf, sizeof(pbuf), "%u", port);
	rc = getaddrinfo(host, pbuf, &hints, &res);
	if (rc != 0) {
		*error_r = xasprintf("cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		(void)add_addr(ls, ai->ai_addr, ai->ai_addrlen, false);
	freeaddrinfo(res);
	ls->name = xstrdup(host);
	return 0;
}

static int
parse_inet(struct lspec *ls, const char *host, unsigned port, bool resolve,
    char **error_r)
{
	struct in_addr a4;
	struct in6_addr a6;

	ls->port = port;
	if (strcmp(host, "*") == 0) {
		add_v4(ls, htonl(INADDR_ANY), port);
		add_v6(ls, &in6addr_any, port, true);
	} else if (strcmp(host, "*v4") == 0) {
		add_v4(ls, htonl(INADDR_ANY), port);
	} else if (strcmp(host, "*v6") == 0) {
		add_v6(ls, &in6addr_any, port, false);
	} else if (strcasecmp(host, "localhost") == 0) {
		add_v4(ls, htonl(INADDR_LOOPBACK), port);
		add_v6(ls, &in6addr_loopback, port, true);
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		add_v4(ls, a4.s_addr, port);
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		add_v6(ls, &a6, port, false);
	} else if (!resolve) {
		ls->name = xstrdup(host);
	} else {
		return resolve_name(ls, host, port, error_r);
	}
	return 0;
}

static int
parse_spec(const char *spec, bool resolve, struct lspec *ls, char **error_r)
{
	char host[256];
	const char *colon, *hs, *he;

	memset(ls, 0, sizeof(*ls));
	while (*spec == ' ' || *spec == '\t')
		spec++;
	if (spec[0] == '/' || spec[0] == '.')
		return parse_unix(ls, spec, error_r);
	if (spec[0] == '[') {
		he = strchr(spec, ']');
		if (he == NULL || he[1] != ':') {
			*error_r = xasprintf("bad bind address '%s'", spec);
			return -1;
		}
		hs = spec + 1;
		colon = he + 1;
	} else {
		colon = strrchr(spec, ':');
		hs = spec;
		he = colon;
	}
	if (colon == NULL || (size_t)(he - hs) >= sizeof(host) || he == hs) {
		*error_r = xasprintf("bad bind address '%s' (need host:port)", spec);
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (parse_port(colon + 1, &ls->port) < 0) {
		*error_r = xasprintf("bad port in '%s'", spec);
		return -1;
	}
	return parse_inet(ls, host, ls->port, resolve, error_r);
}

static void
close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* Removes a socket file nobody listens on any more. */
static void
unlink_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd;

	if (lstat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
	    errno == ECONNREFUSED)
		(void)unlink(sun->sun_path);
	close(fd);
}

static int
bind_one(const struct laddr *a, int *fd_r)
{
	int fd, on = 1, fl, family = a->ss.ss_family;
	const struct sockaddr_un *sun = (const void *)&a->ss;

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	if (family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		goto fail;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
		goto fail;
	if (family == AF_UNIX)
		unlink_stale(sun);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (family == AF_UNIX && a->mode >= 0 &&
	    chmod(sun->sun_path, (mode_t)a->mode) < 0)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	*fd_r = fd;
	return 0;
fail:
	fl = errno;
	close(fd);
	errno = fl;
	return -1;
}

int
listen_parse_and_bind(const char *spec, int **fds_r, size_t *n_r, char **error_r)
{
	struct lspec ls;
	int *fds;
	size_t i, n = 0;

	if (parse_spec(spec, true, &ls, error_r) < 0)
		return -1;
	free(ls.name);
	fds = xcalloc(ls.n + 1, sizeof(*fds));
	for (i = 0; i < ls.n; i++) {
		if (bind_one(&ls.a[i], &fds[n]) == 0) {
			n++;
			continue;
		}
		if (ls.a[i].optional)
			continue;
		*error_r = xasprintf("cannot listen on '%s': %s", spec, strerror(errno));
		close_all(fds, n);
		free(fds);
		return -1;
	}
	if (n == 0) {
		*error_r = xasprintf("no address to listen on in '%s'", spec);
		free(fds);
		return -1;
	}
	*fds_r = fds;
	*n_r = n;
	return 0;
}

static void
key_addr(struct buf *b, const struct laddr *a)
{
	char text[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const void *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const void *)&a->ss;
	const struct sockaddr_un *sun = (const void *)&a->ss;

	if (b->len > 0)
		buf_putc(b, ' ');
	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		buf_printf(b, "inet:%s:%u", text, ntohs(sin->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		buf_printf(b, "inet6:[%s]:%u", text, ntohs(sin6->sin6_port));
	} else {
		buf_printf(b, "unix:%s", sun->sun_path);
		if (a->mode >= 0)
			buf_printf(b, " mode=%04o", (unsigned)a->mode);
	}
}

char *
listen_spec_key(const char *spec, char **error_r)
{
	struct lspec ls;
	struct buf b;
	size_t i, len;

	if (parse_spec(spec, false, &ls, error_r) < 0)
		return NULL;
	buf_init(&b, 0);
	buf_append(&b, "", 0);
	if (ls.name != NULL)
		buf_printf(&b, "host:%s:%u", ls.name, ls.port);
	for (i = 0; i < ls.n; i++)
		key_addr(&b, &ls.a[i]);
	free(ls.name);
	return buf_steal(&b, &len);
}

int
listen_spec_equal(const char *a, const char *b)
{
	char *ka, *kb, *err = NULL;
	int ret;

	ka = listen_spec_key(a, &err);
	free(err);
	err = NULL;
	kb = listen_spec_key(b, &err);
	free(err);
	ret = (ka == NULL || kb == NULL) ? -1 : strcmp(ka, kb) == 0;
	free(ka);
	free(kb);
	return ret;
}
