/*
 * Unit tests for rspamc's output formats, command line and request headers.
 *
 * The golden files in test/unit/client/data/ are the stdout of Debian's
 * rspamc 3.4 for canned replies (gen_goldens.py made them; timings
 * normalised to 0). Each row of data/cases.tsv names the reply body, the
 * HTTP status, the command and flags; we format the same reply with an
 * elapsed time of 0 and compare byte for byte.
 */
#include "client/rspamc.h"

#include "core/buf.h"
#include "core/obj.h"
#include "core/str.h"
#include "http/http_parser.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_DIR "test/unit/client/data/"

static char *
read_data(const char *name, size_t *len_r)
{
	char path[512];

	if (str_format(path, sizeof(path), "%s%s", DATA_DIR, name) < 0)
		return NULL;
	return test_read_file(path, len_r);
}

/* Parses "rspamc FLAGS CMD" into *opts. */
static int
parse_cmdline(const char *flags, const char *cmd, struct rspamc_opts *opts)
{
	char *argv[8] = { "rspamc" };
	char *copy = strdup(flags), *error = NULL;
	int argc = 1, r;

	if (strcmp(flags, "-") != 0) {
		for (char *p = copy; p != NULL && *p != '\0' && argc < 6;) {
			char *sp = strchr(p, ' ');

			if (sp != NULL)
				*sp = '\0';
			argv[argc++] = p;
			p = sp != NULL ? sp + 1 : NULL;
		}
	}
	argv[argc++] = (char *)cmd;
	r = rspamc_opts_parse(argc, argv, opts, &error);
	free(error);
	free(copy);
	return r;
}

/* One row of cases.tsv: returns true when our output equals the golden. */
static bool
run_case(char **f)
{
	struct rspamc_opts opts;
	struct rspamc_reply reply = { 0 };
	struct buf out;
	size_t body_len = 0, gold_len = 0;
	char *body = read_data(f[1], &body_len);
	char gold_name[256];
	char *gold;
	bool ok;
	int r;

	(void)str_format(gold_name, sizeof(gold_name), "%s.out", f[0]);
	gold = read_data(gold_name, &gold_len);
	if (body == NULL || gold == NULL || parse_cmdline(f[5], f[4], &opts) != 0) {
		free(body);
		free(gold);
		return false;
	}
	reply.is_file = opts.command->needs_input;
	reply.name = reply.is_file ? "m.eml" : opts.command->name;
	reply.status = (int)strtol(f[2], NULL, 10);
	reply.reason = str_from_cstr(f[3]);
	reply.body = body;
	reply.body_len = body_len;
	buf_init(&out, 0);
	r = rspamc_output_reply(&opts, &reply, false, &out);
	ok = out.len == gold_len && memcmp(out.data, gold, gold_len) == 0 &&
	    (r == 0) == (strcmp(f[6], "0") == 0);
	if (!ok)
		fprintf(stderr, "case %s differs (rc %d):\n--- ours\n%s--- 3.4\n%s",
		    f[0], r, out.data != NULL ? out.data : "", gold);
	buf_deinit(&out);
	rspamc_opts_deinit(&opts);
	free(body);
	free(gold);
	return ok;
}

static void
test_goldens(void)
{
	size_t len;
	char *tsv = read_data("cases.tsv", &len);
	char *line, *next, *f[7];
	int n = 0;

	test_begin("output equals rspamc 3.4 goldens");
	test_assert(tsv != NULL);
	for (line = tsv; line != NULL && *line != '\0'; line = next) {
		int nf = 0;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '#')
			continue;
		for (char *p = line; p != NULL && nf < 7;) {
			char *tab = strchr(p, '\t');

			if (tab != NULL)
				*tab = '\0';
			f[nf++] = p;
			p = tab != NULL ? tab + 1 : NULL;
		}
		test_assert(nf == 7);
		if (nf == 7)
			test_assert(run_case(f));
		n++;
	}
	test_assert(n >= 40);
	free(tsv);
	test_end();
}

static const char *
format(const char *flags, const char *cmd, const struct rspamc_reply *reply,
    bool for_exec, struct buf *out, int *rc_r)
{
	struct rspamc_opts opts;

	buf_reset(out);
	if (parse_cmdline(flags, cmd, &opts) != 0)
		return "";
	*rc_r = rspamc_output_reply(&opts, reply, for_exec, out);
	rspamc_opts_deinit(&opts);
	return out->data != NULL ? out->data : "";
}

static void
test_failures(void)
{
	struct rspamc_reply reply = { .name = "ham.eml", .is_file = true };
	struct buf out;
	int rc = 0;

	buf_init(&out, 0);
	test_begin("transport errors and unparsable replies");
	reply.io_error = "IO write error: Connection refused";
	test_assert(strcmp(format("-", "symbols", &reply, false, &out, &rc),
	    "Results for file: ham.eml (0 seconds)\n"
	    "IO write error: Connection refused\n\n") == 0);
	test_assert(rc == -1);
	test_assert(strcmp(format("-j", "symbols", &reply, false, &out, &rc),
	    "IO write error: Connection refused\n\n") == 0);
	reply.io_error = NULL;
	reply.status = 200;
	reply.reason = STR_LIT("OK");
	reply.body = "garbage";
	reply.body_len = 7;
	rc = 0;
	test_assert(strncmp(format("-", "symbols", &reply, false, &out, &rc),
	    "Results for file: ham.eml (0 seconds)\nCannot parse UCL: ", 56) == 0);
	test_assert(rc == -1);
	/* 3.4 treats a 2xx without a body as an HTTP error */
	reply.status = 204;
	reply.reason = STR_LIT("No Content");
	reply.body_len = 0;
	test_assert(strcmp(format("-", "learn_ham", &reply, false, &out, &rc),
	    "Results for file: ham.eml (0 seconds)\nHTTP error: 204, No Content\n\n") == 0);
	test_assert(rc == -1);
	test_end();
	buf_deinit(&out);
}

static void
test_exec_form_and_headers(void)
{
	struct http_header hdrs[2] = {
		{ STR_LIT("Content-Type"), STR_LIT("application/json") },
		{ STR_LIT("Content-Length"), STR_LIT("22") },
	};
	struct rspamc_reply reply = { .name = "a.eml", .is_file = true,
		.status = 200, .reason = STR_LIT("OK"),
		.body = "{\"action\":\"no action\"}", .body_len = 22,
		.elapsed = 1.11 };
	struct buf out;
	int rc = 1;

	buf_init(&out, 0);
	test_begin("-e form, --headers, elapsed time");
	test_assert(strcmp(format("-", "symbols", &reply, true, &out, &rc),
	    "[Metric: default]\nAction: no action\nSpam: false\n") == 0);
	test_assert(rc == 0);
	test_assert(strcmp(format("-j", "symbols", &reply, true, &out, &rc),
	    "{\n    \"action\": \"no action\"\n}") == 0);
	reply.headers = hdrs;
	reply.n_headers = 2;
	test_assert(strcmp(format("--headers", "symbols", &reply, false, &out, &rc),
	    "Results for file: a.eml (1.11 seconds)\n"
	    "Content-Type: application/json\nContent-Length: 22\n\n"
	    "[Metric: default]\nAction: no action\nSpam: false\n\n") == 0);
	test_end();
	buf_deinit(&out);
}

static void
test_cmdline(void)
{
	char *argv[] = { "rspamc", "-h", "[::1]", "-r", "a@x", "--rcpt=b@x",
		"--header", "X-Custom: v", "--header", "A=b", "-p", "-P", "pw",
		"-i", "192.0.2.1", "CHECK", "f1", "-n", "2", "-t", "2.5", "f2" };
	struct rspamc_opts o;
	char *error = NULL, *t;

	test_begin("command line");
	test_assert(rspamc_opts_parse((int)ARRAY_SIZE(argv), argv, &o, &error) == 0);
	test_assert(o.command->cmd == RSPAMC_CMD_SYMBOLS);
	test_assert(o.n_rcpts == 2 && strcmp(o.rcpts[1], "b@x") == 0);
	test_assert(o.n_headers == 2 && strcmp(o.headers[0].value, " v") == 0);
	test_assert(strcmp(o.headers[1].name, "A") == 0 &&
	    strcmp(o.headers[1].value, "b") == 0);
	test_assert(o.pass_all && strcmp(o.password, "pw") == 0);
	test_assert(o.max_requests == 2 && o.timeout == 2.5);
	test_assert(o.n_files == 2 && strcmp(o.files[1], "f2") == 0);
	t = rspamc_target(o.connect, o.command);
	test_assert(strcmp(t, "[::1]:11334") == 0);
	free(t);
	rspamc_opts_deinit(&o);

	char *argv2[] = { "rspamc", "file.eml" };
	test_assert(rspamc_opts_parse(2, argv2, &o, &error) == 0);
	test_assert(o.command->cmd == RSPAMC_CMD_SYMBOLS && o.n_files == 1);
	rspamc_opts_deinit(&o);

	char *argv3[] = { "rspamc", "--bogus" };
	test_assert(rspamc_opts_parse(2, argv3, &o, &error) == -1);
	test_assert(error != NULL);
	free(error);
	rspamc_opts_deinit(&o);

	char *argv4[] = { "rspamc", "-t", "abc", "stat" };
	test_assert(rspamc_opts_parse(4, argv4, &o, &error) == -1);
	free(error);
	rspamc_opts_deinit(&o);
	test_end();
}

static void
test_targets(void)
{
	const struct rspamc_command *sym = rspamc_command_find("symbols");
	const struct rspamc_command *stat = rspamc_command_find("STAT");
	static const struct {
		const char *connect;
		bool control;
		const char *want;
	} cases[] = {
		{ NULL, false, "localhost:11334" },
		{ "127.0.0.1", false, "127.0.0.1:11334" },
		{ "127.0.0.2", false, "127.0.0.2:11333" },
		{ "127.0.0.2", true, "127.0.0.2:11334" },
		{ "mail.example", false, "mail.example:11333" },
		{ "host:1234", false, "host:1234" },
		{ "::1", false, "[::1]:11334" },
		{ "2001:db8::1", false, "[2001:db8::1]:11333" },
		{ "[2001:db8::1]:99", false, "[2001:db8::1]:99" },
		{ "/run/rspamd.sock", false, "/run/rspamd.sock" },
	};

	test_begin("connect targets and default ports");
	test_assert(sym != NULL && stat != NULL && rspamc_command_find("nope") == NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *t = rspamc_target(cases[i].connect, cases[i].control ? stat : sym);

		if (!test_assert(strcmp(t, cases[i].want) == 0))
			fprintf(stderr, "target %s -> %s\n", cases[i].connect, t);
		free(t);
	}
	test_end();
}

static void
test_request_headers(void)
{
	char *argv[] = { "rspamc", "-i", "192.0.2.10", "-F", "a@example.net",
		"-r", "b@example.org", "-r", "c@example.org", "--helo", "h",
		"--hostname", "hn", "-d", "b@example.org", "-u", "authuser",
		"-P", "secret", "--header", "X-Custom: v", "-p", "--raw",
		"--extended-urls", "symbols", "ham.eml" };
	struct http_header h[32];
	struct rspamc_opts o;
	char *error = NULL, flags[64];
	struct buf b;
	size_t n;

	test_begin("request headers");
	test_assert(rspamc_opts_parse((int)ARRAY_SIZE(argv), argv, &o, &error) == 0);
	n = rspamc_request_headers(&o, "ham.eml", o.ip, flags, sizeof(flags), h, 32);
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		(void)buf_printf(&b, "%.*s: %.*s\n", (int)h[i].name.len, h[i].name.ptr,
		    (int)h[i].value.len, h[i].value.ptr);
	test_assert(strcmp(b.data,
	    "Content-Type: text/plain\nUser-Agent: rspamc\nFilename: ham.eml\n"
	    "Flags: pass_all,body_block\nPassword: secret\nIp: 192.0.2.10\n"
	    "From: a@example.net\nRcpt: b@example.org\nRcpt: c@example.org\n"
	    "User: authuser\nDeliver-To: b@example.org\nHelo: h\nHostname: hn\n"
	    "Raw: yes\nURL-Format: extended\nX-Custom:  v\n") == 0);
	buf_deinit(&b);
	rspamc_opts_deinit(&o);
	test_end();
}

static void
test_ucl(void)
{
	struct obj *o = obj_new_object(), *arr = obj_new_array(), *inner;
	struct buf out;

	test_begin("UCL emitter");
	inner = obj_new_object();
	obj_object_set(inner, "k", obj_new_string("v"));
	obj_array_append(arr, inner);
	obj_array_append(arr, obj_new_int(-3));
	obj_array_append(arr, obj_new_array());
	obj_object_set(o, "a b", obj_new_int(1));
	obj_object_set(o, "message-id", obj_new_string("x\"y"));
	obj_object_set(o, "n", arr);
	obj_object_set(o, "e", obj_new_object());
	obj_object_set(o, "f", obj_new_float(15.0));
	buf_init(&out, 0);
	test_assert(rspamc_output_ucl(o, &out) == 0);
	test_assert(strcmp(out.data,
	    "\"a b\" = 1;\nmessage-id = \"x\\\"y\";\nn [\n    {\n        k = \"v\";\n"
	    "    }\n    -3,\n    []\n]\ne {}\nf = 15.0;\n") == 0);
	buf_deinit(&out);
	obj_free(&o);
	test_end();
}

int
main(void)
{
	test_goldens();
	test_failures();
	test_exec_form_and_headers();
	test_cmdline();
	test_targets();
	test_request_headers();
	test_ucl();
	return test_exit();
}
