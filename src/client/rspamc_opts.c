/*
 * rspamc_opts.c - rspamc's command line: the option table, the command
 * table and the connect-target rules.
 *
 * Option names, short letters and the default-port rule copy rspamc 3.4 so
 * scripts written for Debian's rspamc keep working. Like GLib's option
 * parser (which 3.4 uses), options may appear after the command and the
 * files. The first positional argument is the command only when it names
 * one; otherwise it is a file and the command is `symbols`, which is how
 * `rspamc file.eml` and `rspamc bogus` (-> "cannot stat file bogus") behave.
 *
 * Features 3.4 has that we do not implement (HTTPCrypt --key, zstd -z/-D,
 * --mime, --bind, fuzzy image/attachment skipping) are refused with a
 * message rather than silently ignored.
 */
#include "client/rspamc.h"

#include "core/buf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct rspamc_command commands[] = {
	{ "symbols", RSPAMC_CMD_SYMBOLS, "/checkv2", false, true },
	{ "check", RSPAMC_CMD_SYMBOLS, "/checkv2", false, true },
	{ "report", RSPAMC_CMD_SYMBOLS, "/checkv2", false, true },
	{ "learn_spam", RSPAMC_CMD_LEARN_SPAM, "/learnspam", true, true },
	{ "learn_ham", RSPAMC_CMD_LEARN_HAM, "/learnham", true, true },
	{ "fuzzy_add", RSPAMC_CMD_FUZZY_ADD, "/fuzzyadd", true, true },
	{ "fuzzy_del", RSPAMC_CMD_FUZZY_DEL, "/fuzzydel", true, true },
	{ "stat", RSPAMC_CMD_STAT, "/stat", true, false },
	{ "stat_reset", RSPAMC_CMD_STAT_RESET, "/statreset", true, false },
	{ "counters", RSPAMC_CMD_COUNTERS, "/counters", true, false },
	{ "uptime", RSPAMC_CMD_UPTIME, "/auth", true, false },
};

const struct rspamc_command *
rspamc_command_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcasecmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

enum {
	OPT_HELO = 256,
	OPT_HOSTNAME,
	OPT_COMMANDS,
	OPT_COMPACT,
	OPT_HEADERS,
	OPT_RAW,
	OPT_UCL,
	OPT_EXTENDED_URLS,
	OPT_KEY,
	OPT_HEADER,
	OPT_EXCLUDE,
	OPT_SORT,
	OPT_PROFILE,
	OPT_SKIP_IMAGES,
	OPT_SKIP_ATTACHMENTS,
};

static const struct option long_options[] = {
	{ "connect", required_argument, NULL, 'h' },
	{ "password", required_argument, NULL, 'P' },
	{ "classifier", required_argument, NULL, 'c' },
	{ "weight", required_argument, NULL, 'w' },
	{ "flag", required_argument, NULL, 'f' },
	{ "pass-all", no_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "ip", required_argument, NULL, 'i' },
	{ "user", required_argument, NULL, 'u' },
	{ "deliver", required_argument, NULL, 'd' },
	{ "from", required_argument, NULL, 'F' },
	{ "rcpt", required_argument, NULL, 'r' },
	{ "helo", required_argument, NULL, OPT_HELO },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "timeout", required_argument, NULL, 't' },
	{ "bind", required_argument, NULL, 'b' },
	{ "commands", no_argument, NULL, OPT_COMMANDS },
	{ "json", no_argument, NULL, 'j' },
	{ "compact", no_argument, NULL, OPT_COMPACT },
	{ "headers", no_argument, NULL, OPT_HEADERS },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "ucl", no_argument, NULL, OPT_UCL },
	{ "max-requests", required_argument, NULL, 'n' },
	{ "extended-urls", no_argument, NULL, OPT_EXTENDED_URLS },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "exec", required_argument, NULL, 'e' },
	{ "mime", no_argument, NULL, 'm' },
	{ "header", required_argument, NULL, OPT_HEADER },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "empty", no_argument, NULL, 'E' },
	{ "fuzzy-symbol", required_argument, NULL, 'S' },
	{ "compressed", no_argument, NULL, 'z' },
	{ "profile", no_argument, NULL, OPT_PROFILE },
	{ "dictionary", required_argument, NULL, 'D' },
	{ "skip-images", no_argument, NULL, OPT_SKIP_IMAGES },
	{ "skip-attachments", no_argument, NULL, OPT_SKIP_ATTACHMENTS },
	{ "user-agent", required_argument, NULL, 'U' },
	{ "help", no_argument, NULL, '?' },
	{ NULL, 0, NULL, 0 },
};

static const char short_options[] = "h:P:c:w:f:pvi:u:d:F:r:t:b:jn:e:mES:zD:U:";

static const char usage_text[] =
    "Usage:\n"
    "  rspamc [OPTION?] [command] [file|dir ...] - run rspamc client\n"
    "\n"
    "Options:\n"
    "  -h, --connect host[:port]  Specify host and port (or unix socket path)\n"
    "  -P, --password pw          Specify control password\n"
    "  -c, --classifier name      Classifier to learn spam or ham\n"
    "  -w, --weight n             Weight for fuzzy operations\n"
    "  -f, --flag n               Flag for fuzzy operations\n"
    "  -p, --pass-all             Pass all filters\n"
    "  -v, --verbose              More verbose output\n"
    "  -i, --ip addr              Emulate that message was received from ip\n"
    "  -u, --user name            Emulate authenticated user\n"
    "  -d, --deliver addr         Emulate delivery to user\n"
    "  -F, --from addr            SMTP FROM address\n"
    "  -r, --rcpt addr            SMTP RCPT address (repeatable)\n"
    "  --helo name                SMTP HELO\n"
    "  --hostname name            Resolved hostname of the sender\n"
    "  -t, --timeout sec          Time in seconds to wait for a reply (10)\n"
    "  --commands                 List available commands\n"
    "  -j, --json                 Output json reply\n"
    "  --compact                  Output compact json reply\n"
    "  --headers                  Output HTTP headers\n"
    "  --raw                      Input is a raw file, not an email file\n"
    "  --ucl                      Output ucl reply from rspamd\n"
    "  -n, --max-requests n       Maximum parallel requests (8)\n"
    "  --extended-urls            Output urls in extended format\n"
    "  -e, --exec cmd             Pass each result to cmd's stdin\n"
    "  --header 'Name: value'     Add custom HTTP header (repeatable)\n"
    "  --exclude glob             Skip matching file names (repeatable)\n"
    "  --sort name|weight|frequency|hits  Order of counters\n"
    "  -E, --empty                Allow empty input instead of stdin\n"
    "  -S, --fuzzy-symbol sym     Learn the specified fuzzy symbol\n"
    "  --profile                  Profile symbols execution time\n"
    "  -U, --user-agent ua        User-Agent instead of \"rspamc\"\n"
    "  -?, --help                 Show help options\n";

static void
print_commands(void)
{
	static const struct {
		const char *name, *kind, *desc;
	} list[] = {
		{ "symbols", "normal  ", "scan message and show symbols (default command)" },
		{ "learn_spam", "control*", "learn message as spam" },
		{ "learn_ham", "control*", "learn message as ham" },
		{ "fuzzy_add", "control*", "add hashes from a message to the fuzzy storage (check -f and -w options for this command)" },
		{ "fuzzy_del", "control*", "delete hashes from a message from the fuzzy storage (check -f option for this command)" },
		{ "stat", "control ", "show rspamd statistics" },
		{ "stat_reset", "control*", "show and reset rspamd statistics (useful for graphs)" },
		{ "counters", "control ", "display rspamd symbols statistics" },
		{ "uptime", "control ", "show rspamd uptime" },
	};

	printf("Rspamc commands summary:\n");
	for (size_t i = 0; i < ARRAY_SIZE(list); i++)
		printf("%15s (%s)\t%s\n", list[i].name, list[i].kind, list[i].desc);
	printf("\n* is for privileged commands that may need password (see -P option)\n"
	    "control commands use port 11334 while normal use 11333 by default (see -h option)\n");
}

static void
set_str(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

static int
parse_long(const char *s, long min, long max, long *v_r)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

static int
parse_double(const char *s, double *v_r)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0))
		return -1;
	*v_r = v;
	return 0;
}

/* "Name: value" keeps the text after ':' as is (leading space included,
 * as 3.4 does); "Name=value" splits at '='. */
static int
add_header(struct rspamc_opts *o, const char *arg)
{
	const char *sep = strchr(arg, ':');
	const char *eq = strchr(arg, '=');
	size_t cap = o->n_headers;

	if (sep == NULL || (eq != NULL && eq < sep))
		sep = eq;
	if (sep == NULL || sep == arg)
		return -1;
	o->headers = xgrow(o->headers, &cap, o->n_headers + 1, sizeof(*o->headers));
	o->headers[o->n_headers].name = xstrndup(arg, (size_t)(sep - arg));
	o->headers[o->n_headers].value = xstrdup(sep + 1);
	o->n_headers++;
	return 0;
}

static void
add_str(char ***arr, size_t *n, const char *val)
{
	size_t cap = *n;

	*arr = xgrow(*arr, &cap, *n + 1, sizeof(**arr));
	(*arr)[(*n)++] = xstrdup(val);
}

static int
parse_sort(const char *s, enum rspamc_sort *sort_r)
{
	static const struct {
		const char *name;
		enum rspamc_sort sort;
	} names[] = {
		{ "name", RSPAMC_SORT_NAME },
		{ "weight", RSPAMC_SORT_WEIGHT },
		{ "frequency", RSPAMC_SORT_FREQUENCY },
		{ "hits", RSPAMC_SORT_HITS },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*sort_r = names[i].sort;
			return 0;
		}
	}
	return -1;
}

/* "prefix" + arg + "suffix" as a heap string. */
static char *
opt_error(const char *prefix, const char *arg, const char *suffix)
{
	struct buf b;

	buf_init(&b, 0);
	(void)buf_append_cstr(&b, prefix);
	(void)buf_append_cstr(&b, arg);
	(void)buf_append_cstr(&b, suffix);
	return buf_steal(&b, NULL);
}

/* Options with a string value stored as is. */
static char **
string_slot(struct rspamc_opts *o, int c)
{
	switch (c) {
	case 'h': return &o->connect;
	case 'P': return &o->password;
	case 'c': return &o->classifier;
	case 'i': return &o->ip;
	case 'u': return &o->user;
	case 'd': return &o->deliver;
	case 'F': return &o->from;
	case OPT_HELO: return &o->helo;
	case OPT_HOSTNAME: return &o->hostname;
	case 'e': return &o->exec;
	case 'S': return &o->fuzzy_symbol;
	case 'U': return &o->user_agent;
	default: return NULL;
	}
}

/* Flags without a value; returns -1 when c is not one of them. */
static int
set_flag(struct rspamc_opts *o, int c)
{
	switch (c) {
	case 'p': o->pass_all = true; break;
	case 'v': o->verbose = true; break;
	case 'j': o->output = RSPAMC_OUT_JSON; break;
	case OPT_COMPACT: o->output = RSPAMC_OUT_COMPACT; break;
	case OPT_UCL: o->output = RSPAMC_OUT_UCL; break;
	case OPT_HEADERS: o->print_headers = true; break;
	case OPT_RAW: o->raw = true; break;
	case OPT_EXTENDED_URLS: o->extended_urls = true; break;
	case 'E': o->empty = true; break;
	case OPT_PROFILE: o->profile = true; break;
	default: return -1;
	}
	return 0;
}

/* -w, -f, -t, -n; -1 on a bad value. */
static int
set_number(struct rspamc_opts *o, int c, const char *arg)
{
	long v;

	if (c == 't')
		return parse_double(arg, &o->timeout);
	if (parse_long(arg, c == 'n' ? 0 : -2147483647L, 2147483647L, &v) < 0)
		return -1;
	if (c == 'w' || c == 'f') {
		set_str(c == 'w' ? &o->weight : &o->flag, arg);
	} else {
		o->max_requests = v == 0 ? RSPAMC_DEFAULT_MAX_REQUESTS :
		    (unsigned)MIN(v, 1024);
	}
	return 0;
}

/* Returns 0, 1 (help printed) or -1 with *error_r. */
static int
handle_option(struct rspamc_opts *o, int c, const char *arg, char **error_r)
{
	char **slot = string_slot(o, c);

	if (slot != NULL) {
		set_str(slot, arg);
		return 0;
	}
	if (set_flag(o, c) == 0)
		return 0;
	switch (c) {
	case 'r':
		add_str(&o->rcpts, &o->n_rcpts, arg);
		return 0;
	case OPT_EXCLUDE:
		/* file name globs are applied while walking inputs */
		add_str(&o->excludes, &o->n_excludes, arg);
		return 0;
	case 'w':
	case 'f':
	case 't':
	case 'n':
		if (set_number(o, c, arg) < 0)
			break;
		return 0;
	case OPT_HEADER:
		if (add_header(o, arg) < 0)
			break;
		return 0;
	case OPT_SORT:
		if (parse_sort(arg, &o->sort) < 0)
			break;
		return 0;
	case OPT_COMMANDS:
		print_commands();
		return 1;
	case '?':
		fputs(usage_text, stdout);
		return 1;
	default:
		*error_r = opt_error("option parsing failed: ",
		    arg != NULL ? arg : "", " is not supported by this rspamc");
		return -1;
	}
	*error_r = opt_error("option parsing failed: bad value \"", arg, "\"");
	return -1;
}

static int
take_positionals(struct rspamc_opts *o, int argc, char **argv, int first)
{
	int i = first;

	if (i < argc) {
		o->command = rspamc_command_find(argv[i]);
		if (o->command != NULL)
			i++;
	}
	if (o->command == NULL)
		o->command = rspamc_command_find("symbols");
	for (; i < argc; i++)
		add_str(&o->files, &o->n_files, argv[i]);
	return 0;
}

int
rspamc_opts_parse(int argc, char **argv, struct rspamc_opts *opts_r,
    char **error_r)
{
	int c, idx, r;

	memset(opts_r, 0, sizeof(*opts_r));
	opts_r->timeout = RSPAMC_DEFAULT_TIMEOUT;
	opts_r->max_requests = RSPAMC_DEFAULT_MAX_REQUESTS;
	*error_r = NULL;
	/* 0, not 1: glibc then forgets the state of an earlier parse (tests parse many). */
	optind = 0;
	opterr = 0;
	for (;;) {
		idx = -1;
		optopt = 0;
		c = getopt_long(argc, argv, short_options, long_options, &idx);
		if (c == -1)
			break;
		if (c == '?' && !(idx >= 0 ? long_options[idx].val == '?' :
		    optopt == '?')) {
			*error_r = opt_error("option parsing failed: Unknown or incomplete option ",
			    argv[optind - 1], "");
			return -1;
		}
		r = handle_option(opts_r, c, optarg != NULL ? optarg :
		    argv[optind - 1], error_r);
		if (r != 0)
			return r;
	}
	return take_positionals(opts_r, argc, argv, optind);
}

void
rspamc_opts_deinit(struct rspamc_opts *o)
{
	char **strs[] = {
		&o->connect, &o->password, &o->ip, &o->from, &o->user,
		&o->deliver, &o->helo, &o->hostname, &o->classifier,
		&o->fuzzy_symbol, &o->user_agent, &o->exec, &o->weight,
		&o->flag,
	};

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	for (size_t i = 0; i < o->n_rcpts; i++)
		free(o->rcpts[i]);
	free(o->rcpts);
	for (size_t i = 0; i < o->n_excludes; i++)
		free(o->excludes[i]);
	free(o->excludes);
	for (size_t i = 0; i < o->n_files; i++)
		free(o->files[i]);
	free(o->files);
	for (size_t i = 0; i < o->n_headers; i++) {
		free(o->headers[i].name);
		free(o->headers[i].value);
	}
	free(o->headers);
	memset(o, 0, sizeof(*o));
}

static bool
is_local_host(const char *host, size_t len)
{
	static const char *const locals[] = { "localhost", "127.0.0.1", "::1" };

	for (size_t i = 0; i < ARRAY_SIZE(locals); i++) {
		if (strlen(locals[i]) == len && strncasecmp(host, locals[i], len) == 0)
			return true;
	}
	return false;
}

char *
rspamc_target(const char *connect, const struct rspamc_command *cmd)
{
	const char *host = connect != NULL && *connect != '\0' ? connect : "localhost";
	const char *colon;
	struct buf b;
	size_t hlen;
	int port;

	if (host[0] == '/' || host[0] == '.')
		return xstrdup(host);
	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		if (close != NULL && close[1] == ':')
			return xstrdup(host);
		hlen = close != NULL ? (size_t)(close - host - 1) : strlen(host + 1);
		host++;
	} else {
		colon = strchr(host, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL)
			return xstrdup(host);
		hlen = strlen(host);
	}
	port = cmd->controller || is_local_host(host, hlen) ?
	    RSPAMC_PORT_CONTROLLER : RSPAMC_PORT_NORMAL;
	buf_init(&b, 0);
	if (memchr(host, ':', hlen) != NULL)
		(void)buf_printf(&b, "[%.*s]:%d", (int)hlen, host, port);
	else
		(void)buf_printf(&b, "%.*s:%d", (int)hlen, host, port);
	return buf_steal(&b, NULL);
}
