/*
 * dnszone_child.h - runs test/functional/dnszone.py as a child process for
 * the auth unit tests: writes the zone text to a temporary file, starts
 * the server with --port-file and --log-queries, waits for the port, and
 * kills it at the end. SIGHUP makes the server re-read the zone file, so a
 * test can change records under a running resolver. Included by the test
 * files only (static functions).
 */
#ifndef TEST_DNSZONE_CHILD_H
#define TEST_DNSZONE_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DNSZONE_PYTHON "/usr/bin/python3"
#define DNSZONE_SCRIPT "test/functional/dnszone.py"

struct dnszone_child {
	pid_t pid;
	int port;
	char dir[64];
	char zone[96];
	char portfile[96];
	char logfile[96];
};

static inline bool
dnszone_write(struct dnszone_child *z, const char *zone_text)
{
	FILE *f = fopen(z->zone, "w");

	if (f == NULL)
		return false;
	fputs(zone_text, f);
	return fclose(f) == 0;
}

static inline int
dnszone_read_port(const char *path)
{
	FILE *f = fopen(path, "r");
	int port = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &port) != 1)
		port = -1;
	fclose(f);
	return port;
}

/* extra: NULL, "--silent" or "--ad". */
static inline bool
dnszone_start(struct dnszone_child *z, const char *zone_text, const char *extra)
{
	memset(z, 0, sizeof(*z));
	snprintf(z->dir, sizeof(z->dir), "/tmp/dnszone.XXXXXX");
	if (mkdtemp(z->dir) == NULL)
		return false;
	snprintf(z->zone, sizeof(z->zone), "%s/zone", z->dir);
	snprintf(z->portfile, sizeof(z->portfile), "%s/port", z->dir);
	snprintf(z->logfile, sizeof(z->logfile), "%s/queries", z->dir);
	if (!dnszone_write(z, zone_text))
		return false;
	z->pid = fork();
	if (z->pid < 0)
		return false;
	if (z->pid == 0) {
		execl(DNSZONE_PYTHON, DNSZONE_PYTHON, DNSZONE_SCRIPT, "--port-file", z->portfile,
		    "--log-queries", z->logfile, z->zone, extra, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { 0, 25 * 1000 * 1000 };

		if ((z->port = dnszone_read_port(z->portfile)) > 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Queries the server received so far whose log line starts with `prefix`
 * ("name TYPE" lines; NULL counts all). */
static inline int
dnszone_queries(const struct dnszone_child *z, const char *prefix)
{
	FILE *f = fopen(z->logfile, "r");
	char line[1100];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (prefix == NULL || strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* New zone contents, re-read by the server on SIGHUP. */
static inline void
dnszone_reload(struct dnszone_child *z, const char *zone_text)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	dnszone_write(z, zone_text);
	kill(z->pid, SIGHUP);
	nanosleep(&ts, NULL);
}

static inline void
dnszone_stop(struct dnszone_child *z)
{
	if (z->pid > 0) {
		kill(z->pid, SIGTERM);
		waitpid(z->pid, NULL, 0);
		z->pid = 0;
	}
	unlink(z->zone);
	unlink(z->portfile);
	unlink(z->logfile);
	rmdir(z->dir);
}

#endif
