/*
 * rspamc_request.c - turning the command line into HTTP requests, running
 * them, and printing the replies in order.
 *
 * Inputs are collected as names first (files, directories walked
 * recursively in sorted order, or stdin) and read batch by batch, so a
 * directory of a hundred thousand messages never sits in memory at once.
 * Each batch runs through http_client_run_many() with -n connections in
 * flight; replies are printed in input order (3.4 prints them as they
 * complete, which makes output order vary from run to run), and the exit
 * code is 1 if any request failed, as the spec's table says.
 *
 * Request headers follow the 3.4 capture: Content-Type (with a body),
 * User-Agent, Filename, Flags, then one header per option.
 *
 * With several inputs and stderr on a terminal, a "[n/N] learnt..." line
 * on stderr shows progress; it is erased before each reply is printed and
 * at the end, and never written when stderr is a file or a pipe.
 */
#include "client/rspamc.h"

#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "http/http_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Requests read and started together; bounds memory for big directories. */
#define RSPAMC_BATCH 256
/* Largest message or reply we handle (the server's default limit is 50 MB). */
#define RSPAMC_MAX_INPUT (100u * 1024 * 1024)
#define RSPAMC_MAX_HEADERS 64

struct name_list {
	char **v;
	size_t n, cap;
};

static void
names_add(struct name_list *l, char *name)
{
	l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = name;
}

static void
names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
excluded(const struct rspamc_opts *opts, const char *name)
{
	for (size_t i = 0; i < opts->n_excludes; i++) {
		if (fnmatch(opts->excludes[i], name, 0) == 0)
			return true;
	}
	return false;
}

static char *
join_path(const char *dir, const char *name)
{
	struct buf b;
	size_t dl = strlen(dir);

	buf_init(&b, 0);
	(void)buf_append(&b, dir, dl);
	if (dl == 0 || dir[dl - 1] != '/')
		(void)buf_putc(&b, '/');
	(void)buf_append_cstr(&b, name);
	return buf_steal(&b, NULL);
}

/* Regular files under `dir`, recursively, each level sorted by name. */
static void
walk_dir(const struct rspamc_opts *opts, const char *dir, int depth,
    struct name_list *out)
{
	struct name_list entries = { 0 };
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (depth > 64 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!excluded(opts, de->d_name))
			names_add(&entries, join_path(dir, de->d_name));
	}
	closedir(d);
	if (entries.n > 1)
		qsort(entries.v, entries.n, sizeof(*entries.v), cmp_cstr);
	for (size_t i = 0; i < entries.n; i++) {
		if (stat(entries.v[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_dir(opts, entries.v[i], depth + 1, out);
		} else if (S_ISREG(st.st_mode)) {
			names_add(out, entries.v[i]);
			entries.v[i] = NULL;
		}
	}
	names_free(&entries);
}

/* Expands the file arguments; -1 (after printing why) on a missing one. */
static int
collect_inputs(const struct rspamc_opts *opts, struct name_list *out)
{
	struct stat st;

	for (size_t i = 0; i < opts->n_files; i++) {
		if (stat(opts->files[i], &st) < 0) {
			fprintf(stderr, "cannot stat file %s\n", opts->files[i]);
			return -1;
		}
		if (S_ISDIR(st.st_mode))
			walk_dir(opts, opts->files[i], 0, out);
		else
			names_add(out, xstrdup(opts->files[i]));
	}
	return 0;
}

static int
read_fd(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(b, chunk, (size_t)n) < 0)
			return -1;
	}
}

/* Reads a file (or stdin when name is NULL) into *b. */
static int
read_input(const char *name, struct buf *b)
{
	int fd = name != NULL ? open(name, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	int r;

	if (fd < 0)
		return -1;
	r = read_fd(fd, b);
	if (name != NULL)
		close(fd);
	return r;
}

static size_t
add_hdr(struct http_header *h, size_t n, size_t max, const char *name,
    const char *value)
{
	if (value == NULL || n >= max)
		return n;
	h[n].name = str_from_cstr(name);
	h[n].value = str_from_cstr(value);
	return n + 1;
}

static const char *
flags_value(const struct rspamc_opts *opts, char *buf, size_t size)
{
	if (str_format(buf, size, "%s%sbody_block",
	    opts->pass_all ? "pass_all," : "",
	    opts->profile ? "profile," : "") < 0)
		return "body_block";
	return buf;
}

size_t
rspamc_request_headers(const struct rspamc_opts *opts,
    const char *filename, const char *ip, char *flags_buf, size_t flags_size,
    struct http_header *h, size_t max)
{
	size_t n = 0;

	if (opts->command->needs_input)
		n = add_hdr(h, n, max, "Content-Type", "text/plain");
	n = add_hdr(h, n, max, "User-Agent",
	    opts->user_agent != NULL ? opts->user_agent : "rspamc");
	n = add_hdr(h, n, max, "Filename", filename);
	n = add_hdr(h, n, max, "Flags", flags_value(opts, flags_buf, flags_size));
	n = add_hdr(h, n, max, "Password", opts->password);
	n = add_hdr(h, n, max, "Ip", ip);
	n = add_hdr(h, n, max, "From", opts->from);
	for (size_t i = 0; i < opts->n_rcpts; i++)
		n = add_hdr(h, n, max, "Rcpt", opts->rcpts[i]);
	n = add_hdr(h, n, max, "User", opts->user);
	n = add_hdr(h, n, max, "Deliver-To", opts->deliver);
	n = add_hdr(h, n, max, "Helo", opts->helo);
	n = add_hdr(h, n, max, "Hostname", opts->hostname);
	n = add_hdr(h, n, max, "Raw", opts->raw ? "yes" : NULL);
	n = add_hdr(h, n, max, "URL-Format", opts->extended_urls ? "extended" : NULL);
	n = add_hdr(h, n, max, "Classifier", opts->classifier);
	n = add_hdr(h, n, max, "Weight", opts->weight);
	n = add_hdr(h, n, max, "Flag", opts->flag);
	n = add_hdr(h, n, max, "Symbol", opts->fuzzy_symbol);
	for (size_t i = 0; i < opts->n_headers; i++)
		n = add_hdr(h, n, max, opts->headers[i].name, opts->headers[i].value);
	return n;
}

/* -i accepts a host name, which 3.4 resolves before sending. */
static char *
resolve_ip(const char *ip)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	unsigned char tmp[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	const void *addr;
	int family;

	if (inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1)
		return xstrdup(ip);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(ip, NULL, &hints, &res) != 0 || res == NULL)
		return xstrdup(ip);
	family = res->ai_family;
	if (family == AF_INET6)
		addr = &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr;
	else
		addr = &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		text[0] = '\0';
	freeaddrinfo(res);
	return xstrdup(text[0] != '\0' ? text : ip);
}

/* The transport failure line 3.4 prints: "IO timeout" or "IO write error:
 * <reason>", the reason being the text after the last ": ". */
static char *
io_error_text(const char *err)
{
	const char *reason;
	struct buf b;

	if (err == NULL)
		err = "unknown error";
	if (strstr(err, "timed out") != NULL || strstr(err, "timeout") != NULL)
		return xstrdup("IO timeout");
	reason = strrchr(err, ':');
	reason = reason != NULL && reason[1] == ' ' ? reason + 2 : err;
	buf_init(&b, 0);
	(void)buf_printf(&b, "IO write error: %s", reason);
	return buf_steal(&b, NULL);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rspamc_item {
	const char *name;  /* borrowed from the name list or the command */
	bool is_file;
	bool from_stdin;
	bool done;
	int ok;            /* 0 or -1 from the formatter */
	struct buf body;
	struct buf output;
	double elapsed;
	char flags[64];
	struct http_header hdrs[RSPAMC_MAX_HEADERS];
};

struct rspamc_run {
	const struct rspamc_opts *opts;
	const char *ip;    /* resolved -i, or NULL */
	struct rspamc_item *items;
	size_t n;
	size_t next_print;
	double start;
	double *finish_times; /* completion times, in completion order */
	size_t n_finished;
	int exit_code;
	/* progress line on a terminal (stderr) for multi-file runs */
	bool progress;
	bool progress_shown;
	size_t total;
	size_t total_done;
	double progress_last;
};

/* Erases the progress line so replies print on a clean line. */
static void
progress_clear(struct rspamc_run *run)
{
	if (!run->progress_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	run->progress_shown = false;
}

/* "[n/N] learnt...", redrawn at most ten times a second, and at the end. */
static void
progress_show(struct rspamc_run *run)
{
	enum rspamc_cmd c = run->opts->command->cmd;
	double now = now_seconds();

	if (!run->progress || (now - run->progress_last < 0.1 && run->total_done < run->total))
		return;
	run->progress_last = now;
	fprintf(stderr, "\r\033[K[%zu/%zu] %s...", run->total_done, run->total,
	    c == RSPAMC_CMD_LEARN_SPAM || c == RSPAMC_CMD_LEARN_HAM ? "learnt" : "scanned");
	fflush(stderr);
	run->progress_shown = true;
}

/*
 * When item `i` was started: http_client_run_many() starts jobs in order
 * with at most max_parallel open, so item i starts as the (i-P+1)-th
 * completion frees a slot. The client has no start hook; this is exact up
 * to the scheduling delay inside the client.
 */
static double
item_start(const struct rspamc_run *run, size_t i)
{
	size_t p = run->opts->max_requests;

	if (i < p || i - p >= run->n_finished)
		return run->start;
	return run->finish_times[i - p];
}

/* Splits on blanks: enough for "-e 'cmd arg'" without shell quoting.
 * Returns a NULL-terminated vector pointing into *copy_r (both heap). */
static char **
split_argv(const char *cmd, char **copy_r)
{
	char *s = xstrdup(cmd), *p = s;
	size_t n = 0, cap = 0;
	char **argv = NULL;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		argv = xgrow(argv, &cap, n + 2, sizeof(*argv));
		argv[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	if (argv != NULL)
		argv[n] = NULL;
	*copy_r = s;
	return argv;
}

/* Runs -e's command with `data` on its stdin; returns its exit status. */
static int
run_exec(const char *cmd, const struct buf *data)
{
	char *copy, **argv = split_argv(cmd, &copy);
	int fds[2], status = 1;
	pid_t pid;

	if (argv == NULL || pipe(fds) < 0)
		goto out;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "Cannot execute %s: %s\n", cmd, strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	for (size_t off = 0; pid > 0 && off < data->len;) {
		ssize_t w = write(fds[1], data->data + off, data->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	else
		status = 1;
out:
	free(argv);
	free(copy);
	return status;
}

/* Prints (or pipes to -e) every finished reply at the head of the order. */
static void
flush_ready(struct rspamc_run *run)
{
	if (run->next_print < run->n && run->items[run->next_print].done)
		progress_clear(run);
	while (run->next_print < run->n && run->items[run->next_print].done) {
		struct rspamc_item *it = &run->items[run->next_print++];

		if (it->ok < 0)
			run->exit_code |= 1;
		if (run->opts->exec != NULL)
			run->exit_code |= run_exec(run->opts->exec, &it->output);
		else
			fwrite(it->output.data, 1, it->output.len, stdout);
		buf_deinit(&it->output);
		buf_deinit(&it->body);
	}
	fflush(stdout);
	progress_show(run);
}

static void
job_done(struct http_client_job *job, void *ud)
{
	struct rspamc_run *run = ud;
	struct rspamc_item *it = job->user;
	struct rspamc_reply reply = { 0 };
	char *io_error = NULL;
	double now = now_seconds();

	reply.name = it->name;
	reply.is_file = it->is_file;
	reply.elapsed = now - item_start(run, (size_t)(it - run->items));
	run->finish_times[run->n_finished++] = now;
	if (job->result < 0) {
		io_error = io_error_text(job->error);
		reply.io_error = io_error;
	} else {
		reply.status = job->resp.status;
		reply.reason = job->resp.reason;
		reply.headers = job->resp.headers;
		reply.n_headers = job->resp.n_headers;
		reply.body = job->resp.body;
		reply.body_len = job->resp.body_len;
	}
	buf_init(&it->output, 0);
	it->ok = rspamc_output_reply(run->opts, &reply, run->opts->exec != NULL,
	    &it->output);
	it->done = true;
	run->total_done++;
	free(io_error);
	free(job->error);
	job->error = NULL;
	if (job->result == 0)
		http_client_response_free(&job->resp);
	flush_ready(run);
}

static int
prepare_item(struct rspamc_run *run, struct rspamc_item *it,
    struct http_client_job *job, const char *target)
{
	const struct rspamc_opts *opts = run->opts;
	size_t nh;

	buf_init(&it->body, RSPAMC_MAX_INPUT);
	if (opts->command->needs_input && !(it->from_stdin && opts->empty) &&
	    read_input(it->from_stdin ? NULL : it->name, &it->body) < 0) {
		fprintf(stderr, "cannot read file %s: %s\n", it->name,
		    strerror(errno));
		return -1;
	}
	nh = rspamc_request_headers(opts, it->is_file ? it->name : "stdin",
	    run->ip, it->flags, sizeof(it->flags), it->hdrs, ARRAY_SIZE(it->hdrs));
	memset(job, 0, sizeof(*job));
	job->target = target;
	job->timeout_s = opts->timeout;
	job->method = opts->command->needs_input ? "POST" : "GET";
	job->path = opts->command->path;
	job->headers = it->hdrs;
	job->n_headers = nh;
	job->body = it->body.data != NULL ? it->body.data : "";
	job->body_len = it->body.len;
	job->user = it;
	job->http10 = true;
	return 0;
}

/* Runs items [0, n) of run->items in one http_client_run_many() call. */
static int
run_batch(struct rspamc_run *run, const char *target)
{
	struct http_client_job *jobs = xcalloc(run->n, sizeof(*jobs));
	int r = 0;

	for (size_t i = 0; i < run->n; i++) {
		if (prepare_item(run, &run->items[i], &jobs[i], target) < 0) {
			r = -1;
			break;
		}
	}
	if (r == 0) {
		run->start = now_seconds();
		run->n_finished = 0;
		run->finish_times = xcalloc(run->n, sizeof(*run->finish_times));
		(void)http_client_run_many(jobs, run->n, run->opts->max_requests,
		    job_done, run);
		free(run->finish_times);
		run->finish_times = NULL;
	}
	for (size_t i = 0; i < run->n; i++)
		buf_deinit(&run->items[i].body);
	free(jobs);
	return r;
}

static int
run_names(struct rspamc_run *run, const struct name_list *names,
    const char *target, const char *single)
{
	size_t total = names->n > 0 ? names->n : 1;

	for (size_t off = 0; off < total; off += RSPAMC_BATCH) {
		size_t n = MIN(total - off, (size_t)RSPAMC_BATCH);

		run->items = xcalloc(n, sizeof(*run->items));
		run->n = n;
		run->next_print = 0;
		for (size_t i = 0; i < n; i++) {
			struct rspamc_item *it = &run->items[i];

			it->name = names->n > 0 ? names->v[off + i] : single;
			it->is_file = run->opts->command->needs_input;
			it->from_stdin = names->n == 0;
		}
		if (run_batch(run, target) < 0) {
			run->exit_code = 1;
			free(run->items);
			run->items = NULL;
			break;
		}
		free(run->items);
		run->items = NULL;
	}
	return run->exit_code;
}

int
rspamc_run(const struct rspamc_opts *opts)
{
	struct rspamc_run run = { 0 };
	struct name_list names = { 0 };
	char *target, *ip = NULL;
	const char *single;

	run.opts = opts;
	if (opts->command->needs_input && collect_inputs(opts, &names) < 0)
		return 1;
	if (opts->command->needs_input && opts->n_files > 0 && names.n == 0) {
		names_free(&names);
		return 0;
	}
	single = opts->command->needs_input ? "stdin" : opts->command->name;
	if (opts->ip != NULL)
		ip = resolve_ip(opts->ip);
	run.ip = ip;
	target = rspamc_target(opts->connect, opts->command);
	run.total = names.n;
	/* Only for a person watching: never into logs or pipes. */
	run.progress = names.n > 1 && isatty(STDERR_FILENO);
	(void)run_names(&run, &names, target, single);
	progress_clear(&run);
	free(target);
	free(ip);
	names_free(&names);
	return run.exit_code;
}
