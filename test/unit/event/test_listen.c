/* Unit tests for bind_socket parsing, binding and canonical keys. */
#include "event/listen.h"
#include "core/common.h"
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_PATH "/tmp/test_listen_stale.sock"

static bool
key_is(const char *spec, const char *want)
{
	char *err = NULL, *k = listen_spec_key(spec, &err);
	bool ok = k != NULL && strcmp(k, want) == 0;

	if (!ok)
		fprintf(stderr, "%s: got '%s' (%s), want '%s'\n", spec,
		    k ? k : "(null)", err ? err : "", want);
	free(k);
	free(err);
	return ok;
}

static void
test_keys(void)
{
	test_begin("canonical keys and equality");
	test_assert(key_is("127.0.0.1:11333", "inet:127.0.0.1:11333"));
	test_assert(key_is("localhost:11333",
	    "inet:127.0.0.1:11333 inet6:[::1]:11333"));
	test_assert(key_is("*:11334", "inet:0.0.0.0:11334 inet6:[::]:11334"));
	test_assert(key_is("[::1]:11333", "inet6:[::1]:11333"));
	test_assert(key_is("[0:0::1]:11333", "inet6:[::1]:11333"));
	test_assert(key_is("/run/rspamd.sock mode=0666", "unix:/run/rspamd.sock mode=0666"));
	test_assert(key_is("/run/rspamd.sock", "unix:/run/rspamd.sock"));
	test_assert(key_is("mail.example:25", "host:mail.example:25"));
	test_assert(listen_spec_equal("LOCALHOST:11333", "localhost:11333") == 1);
	test_assert(listen_spec_equal("[::1]:11333", "[0::1]:11333") == 1);
	test_assert(listen_spec_equal("*:11333", "*:11334") == 0);
	test_assert(listen_spec_equal("/a.sock mode=0660", "/a.sock mode=0666") == 0);
	test_assert(listen_spec_equal("nonsense", "*:1") == -1);
	test_end();
}

static void
test_bad_specs(void)
{
	static const char *bad[] = {
		"11333", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
		"127.0.0.1:-1", "[::1]11333", "[::1:11333", "/x.sock mode=99",
		"/x.sock owner=me", ":11333",
	};
	size_t i;
	int *fds;
	size_t n;
	char *err;

	test_begin("bad specs are rejected with a message");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		if (!test_assert(listen_parse_and_bind(bad[i], &fds, &n, &err) == -1 &&
		    err != NULL))
			fprintf(stderr, "spec '%s' accepted\n", bad[i]);
		free(err);
	}
	test_end();
}

static void
test_bind(void)
{
	int *fds = NULL, fl, type = 0;
	size_t n = 0, i;
	char *err = NULL;
	socklen_t len = sizeof(type);
	struct stat st;
	struct sockaddr_un sun;
	int s;

	test_begin("bind: non-blocking, inheritable, listening; stale unix socket");
	test_assert(listen_parse_and_bind("localhost:0", &fds, &n, &err) == 0);
	test_assert(n >= 1);
	for (i = 0; i < n; i++) {
		fl = fcntl(fds[i], F_GETFL);
		test_assert(fl >= 0 && (fl & O_NONBLOCK));
		test_assert((fcntl(fds[i], F_GETFD) & FD_CLOEXEC) == 0);
		test_assert(getsockopt(fds[i], SOL_SOCKET, SO_ACCEPTCONN, &type, &len) == 0 && type == 1);
		close(fds[i]);
	}
	free(fds);

	/* leave a stale socket file behind, as a crashed daemon would */
	unlink(SOCK_PATH);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", SOCK_PATH);
	test_assert(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(s);
	test_assert(listen_parse_and_bind(SOCK_PATH " mode=0660", &fds, &n, &err) == 0);
	test_assert(n == 1);
	test_assert(stat(SOCK_PATH, &st) == 0 && (st.st_mode & 07777) == 0660);
	/* a live socket is not stolen */
	{
		int *fds2 = NULL;
		size_t n2 = 0;

		test_assert(listen_parse_and_bind(SOCK_PATH, &fds2, &n2, &err) == -1);
		test_assert(err != NULL && strstr(err, "in use") != NULL);
		free(err);
	}
	close(fds[0]);
	free(fds);
	unlink(SOCK_PATH);
	test_end();
}

int
main(void)
{
	test_keys();
	test_bad_specs();
	test_bind();
	return test_exit();
}
