/*
 * state_dir.c - creating the state directory tree and the pid file.
 */
#include "worker/state_dir.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const state_subdirs[] = {
	"", "db", "spool", "mail", "tls", "dkim", "run", "log",
};

static char *
errorf(const char *what, const char *path)
{
	return xasprintf("%s %s: %s", what, path, strerror(errno));
}

int
state_dir_prepare(const char *state_dir, char **error_r)
{
	char path[4096];

	for (size_t i = 0; i < sizeof(state_subdirs) / sizeof(state_subdirs[0]); i++) {
		if (str_format(path, sizeof(path), "%s/%s", state_dir, state_subdirs[i]) < 0) {
			*error_r = xstrdup("state dir path too long");
			return -1;
		}
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			*error_r = errorf("cannot create", path);
			return -1;
		}
	}
	return 0;
}

int
pidfile_write(const char *path, char **error_r)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			long pid;
			char *end;

			buf[n] = '\0';
			pid = strtol(buf, &end, 10);
			if (pid > 0 && pid != getpid() && kill((pid_t)pid, 0) == 0) {
				*error_r = xasprintf("another instance (pid %ld) owns %s", pid, path);
				return -1;
			}
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*error_r = errorf("cannot write pid file", path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		*error_r = errorf("cannot write pid file", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
