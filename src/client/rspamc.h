/*
 * rspamc.h - internal interface shared by the rspamc modules: the command
 * table, the parsed command line, and the reply formatters.
 *
 * Only src/client/ includes this. The formatters are pure functions of a
 * reply (a struct obj tree or raw HTTP data) and the options, writing into a
 * struct buf, so the exact text of rspamc 3.4 can be checked by unit tests
 * without a server.
 */
#ifndef CLIENT_RSPAMC_H
#define CLIENT_RSPAMC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct buf;
struct obj;
struct http_header;

enum rspamc_cmd {
	RSPAMC_CMD_SYMBOLS,
	RSPAMC_CMD_LEARN_SPAM,
	RSPAMC_CMD_LEARN_HAM,
	RSPAMC_CMD_FUZZY_ADD,
	RSPAMC_CMD_FUZZY_DEL,
	RSPAMC_CMD_STAT,
	RSPAMC_CMD_STAT_RESET,
	RSPAMC_CMD_COUNTERS,
	RSPAMC_CMD_UPTIME,
};

struct rspamc_command {
	const char *name;
	enum rspamc_cmd cmd;
	const char *path;
	bool controller;  /* default port 11334 whatever the host */
	bool needs_input; /* POSTs a message; otherwise a GET without body */
};

/* Case-insensitive lookup by name or alias; NULL when unknown. */
const struct rspamc_command *rspamc_command_find(const char *name);

enum rspamc_output {
	RSPAMC_OUT_TEXT,
	RSPAMC_OUT_JSON,    /* -j: pretty JSON */
	RSPAMC_OUT_COMPACT, /* --compact */
	RSPAMC_OUT_UCL,     /* --ucl */
};

enum rspamc_sort {
	RSPAMC_SORT_NAME,
	RSPAMC_SORT_WEIGHT,
	RSPAMC_SORT_FREQUENCY,
	RSPAMC_SORT_HITS,
};

struct rspamc_header {
	char *name;
	char *value;
};

#define RSPAMC_DEFAULT_TIMEOUT 10.0
#define RSPAMC_DEFAULT_MAX_REQUESTS 8
#define RSPAMC_PORT_NORMAL 11333
#define RSPAMC_PORT_CONTROLLER 11334

/* Everything the command line said. Strings are heap copies. */
struct rspamc_opts {
	const struct rspamc_command *command;
	char *connect; /* -h; NULL = localhost */
	char *password;
	char *ip;
	char *from;
	char *user;
	char *deliver;
	char *helo;
	char *hostname;
	char *classifier;
	char *fuzzy_symbol;
	char *user_agent;
	char *exec;
	char **rcpts;
	size_t n_rcpts;
	char **excludes; /* --exclude globs */
	size_t n_excludes;
	struct rspamc_header *headers;
	size_t n_headers;
	char *weight;   /* -w, validated as an integer */
	char *flag;     /* -f, validated as an integer */
	bool pass_all;
	bool raw;
	bool extended_urls;
	bool print_headers;
	bool verbose;
	bool profile;
	bool empty;
	double timeout;
	unsigned max_requests;
	enum rspamc_output output;
	enum rspamc_sort sort;
	char **files;
	size_t n_files;
};

/*
 * Parse argv into *opts_r (zeroed first). Returns 0 to go on, 1 when help
 * or the command list was printed (exit 0), -1 on a bad command line with
 * a heap message in *error_r (caller frees). Always deinit *opts_r.
 */
int rspamc_opts_parse(int argc, char **argv, struct rspamc_opts *opts_r,
    char **error_r);
void rspamc_opts_deinit(struct rspamc_opts *opts);

/*
 * The connect target for http_client: "host:port", "[v6]:port" or a unix
 * socket path, applying the default port of the command (spec table: a
 * scan to localhost goes to the controller port). Returns a heap string.
 */
char *rspamc_target(const char *connect, const struct rspamc_command *cmd);

/*
 * The request headers of one request (excluding Content-Length and
 * Connection, which the HTTP client adds). Fills at most `max` entries of
 * `hdrs_r`, pointing into `opts` and `filename` (borrowed) and into
 * `flags_buf` (caller storage of at least 64 bytes). Returns the count.
 */
size_t rspamc_request_headers(const struct rspamc_opts *opts,
    const char *filename, const char *ip, char *flags_buf, size_t flags_size,
    struct http_header *hdrs_r, size_t max);

/*
 * Runs the command for every input (or once for a control command),
 * printing each reply in input order; returns the process exit code.
 */
int rspamc_run(const struct rspamc_opts *opts);

/* One finished request as the formatter sees it. All borrowed. */
struct rspamc_reply {
	const char *name;    /* file name, or the command name */
	bool is_file;
	double elapsed;      /* seconds, client side */
	const char *io_error; /* transport failure text; NULL if HTTP answered */
	int status;
	struct str reason;
	const struct http_header *headers;
	unsigned n_headers;
	const char *body;
	size_t body_len;
};

/*
 * Format one reply exactly as rspamc 3.4 does for opts->command and
 * opts->output, into `out`. When `for_exec` is set, the "Results for"
 * line, the trailing blank line and the added filename/scan_time are left
 * out (the -e form). Returns 0 when the request counts as a success for
 * the exit code, -1 otherwise.
 */
int rspamc_output_reply(const struct rspamc_opts *opts,
    const struct rspamc_reply *reply, bool for_exec, struct buf *out);

/* The text-mode bodies (without "Results for" line and final blank line). */
int rspamc_output_symbols(const struct obj *reply, struct buf *out);
int rspamc_output_stat(const struct obj *reply, struct buf *out);
int rspamc_output_uptime(const struct obj *reply, struct buf *out);
int rspamc_output_counters(const struct obj *reply, enum rspamc_sort sort,
    struct buf *out);
/* A value tree in libucl's config syntax (top-level object without braces). */
int rspamc_output_ucl(const struct obj *o, struct buf *out);

#endif
