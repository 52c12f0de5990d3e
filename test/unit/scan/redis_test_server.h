/*
 * redis_test_server.h - a private redis-server for the Redis unit tests
 * (test_redis_conn.c, test_bayes_redis.c): started on a free loopback port
 * (or a unix socket) in a temporary directory, without persistence, and
 * killed at the end. Included by the test files only (static functions).
 */
#ifndef TEST_REDIS_TEST_SERVER_H
#define TEST_REDIS_TEST_SERVER_H

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define REDIS_TEST_BINARY "/usr/bin/redis-server"

struct redis_test_server {
	pid_t pid;
	int port;            /* 0 with a unix socket */
	char dir[64];
	char socket_path[128];
	char password[32];   /* "" when none */
};

static int
redis_test_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool
redis_test_available(void)
{
	return access(REDIS_TEST_BINARY, X_OK) == 0;
}

/* A synchronous connection (for checks from the test itself), or NULL. */
static redisContext *
redis_test_sync(const struct redis_test_server *srv)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = srv->port != 0 ?
	    redisConnectWithTimeout("127.0.0.1", srv->port, tv) :
	    redisConnectUnixWithTimeout(srv->socket_path, tv);
	redisReply *r;

	if (c == NULL || c->err != 0) {
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	if (srv->password[0] != '\0') {
		r = redisCommand(c, "AUTH %s", srv->password);
		if (r != NULL)
			freeReplyObject(r);
	}
	return c;
}

static bool
redis_test_ping(const struct redis_test_server *srv)
{
	redisContext *c = redis_test_sync(srv);
	redisReply *r;
	bool ok;

	if (c == NULL)
		return false;
	r = redisCommand(c, "PING");
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* (Re)starts the server with the settings already in *srv. */
static bool
redis_test_restart(struct redis_test_server *srv)
{
	char portbuf[16];
	const char *argv[16];
	int argc = 0;

	snprintf(portbuf, sizeof(portbuf), "%d", srv->port);
	argv[argc++] = REDIS_TEST_BINARY;
	argv[argc++] = "--port";
	argv[argc++] = portbuf;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = srv->dir;
	if (srv->socket_path[0] != '\0') {
		argv[argc++] = "--unixsocket";
		argv[argc++] = srv->socket_path;
	}
	if (srv->password[0] != '\0') {
		argv[argc++] = "--requirepass";
		argv[argc++] = srv->password;
	}
	argv[argc] = NULL;
	srv->pid = fork();
	if (srv->pid < 0)
		return false;
	if (srv->pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (redis_test_ping(srv))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* unix_socket: listen on a socket in the temp dir instead of TCP. */
static bool
redis_test_start(struct redis_test_server *srv, const char *password, bool unix_socket)
{
	memset(srv, 0, sizeof(*srv));
	snprintf(srv->dir, sizeof(srv->dir), "/tmp/redis-test-XXXXXX");
	if (mkdtemp(srv->dir) == NULL)
		return false;
	if (unix_socket)
		snprintf(srv->socket_path, sizeof(srv->socket_path), "%s/redis.sock", srv->dir);
	else if ((srv->port = redis_test_free_port()) < 0)
		return false;
	if (password != NULL)
		snprintf(srv->password, sizeof(srv->password), "%s", password);
	return redis_test_restart(srv);
}

static void
redis_test_kill(struct redis_test_server *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGCONT);
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
		srv->pid = 0;
	}
}

static void
redis_test_stop(struct redis_test_server *srv)
{
	char path[200];

	redis_test_kill(srv);
	if (srv->socket_path[0] != '\0')
		unlink(srv->socket_path);
	snprintf(path, sizeof(path), "%s/dump.rdb", srv->dir);
	unlink(path);
	rmdir(srv->dir);
}

static void
rts_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
}

/* Runs the loop until *calls > 0 or `max` seconds passed; returns elapsed s. */
static double
run_until(struct ev_loop *loop, const int *calls, double max)
{
	ev_timer t;
	double start;

	ev_now_update(loop);
	start = ev_now(loop);
	ev_timer_init(&t, rts_tick, 0.02, 0.02);
	ev_timer_start(loop, &t);
	while (*calls == 0 && ev_now(loop) - start < max)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	ev_now_update(loop);
	return ev_now(loop) - start;
}

#endif
