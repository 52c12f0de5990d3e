/* Unit tests for the multimap module and the tutorial's white/black lists:
 * each rule type, prefilter pre-results, plain scores, config errors and a
 * file map edited between scans. Configs are the shipped conf/ with a temp
 * local.d (RSPAMD_LOCAL_CONFDIR). */
#include "config/config.h"
#include "scan/engine.h"
#include "scan/task.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_multimap.XXXXXX";
static struct config *cfg;
static struct scan_engine *eng;

static const char msg_plain[] =
    "From: Alice <alice@Mime.Example>\r\nTo: Bob <bob@example.net>, postmaster@example.net\r\n"
    "Cc: carol@cc.example\r\nSubject: Cheap VIAGRA here\r\nX-Mailer: BadMailer 1.0\r\n"
    "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@mime.example>\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "Visit http://evil.example/x and http://www.sub.parent.example/y now\r\n";

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
drop(void)
{
	scan_engine_free(&eng);
	config_unref(&cfg);
}

/* Loads conf/ with the given local.d files; returns the engine error. */
static char *
load(const char *const *files)
{
	char ld[512], *err = NULL;

	drop();
	snprintf(ld, sizeof(ld), "%s/local.d", dir);
	for (const char *n[] = { "multimap.conf", "whitelist.conf", "blacklist.conf",
	    "options.inc" }, **p = n; p < n + 4; p++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", ld, *p);
		unlink(path);
	}
	for (size_t i = 0; files[i] != NULL; i += 2) {
		char name[256];

		snprintf(name, sizeof(name), "local.d/%s", files[i]);
		write_file(name, files[i + 1]);
	}
	if (config_load("conf/rspamd.conf", NULL, &cfg, &err) < 0)
		return err;
	eng = scan_engine_new(cfg, &err);
	return eng == NULL ? err : NULL;
}

static struct scan_task *
scan(const char *msg, const char *ip, const char *from, const char *rcpt)
{
	static const char *rcpts[1];
	struct scan_task *t = scan_task_new(eng, msg, strlen(msg));

	t->env.ip = ip;
	t->env.from = from;
	if (rcpt != NULL) {
		rcpts[0] = rcpt;
		t->env.rcpts = rcpts;
		t->env.n_rcpts = 1;
	}
	scan_task_process(t);
	return t;
}

static bool
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool
has(const struct scan_task *t, const char *sym, const char *option, double score)
{
	const struct scan_symbol *s = scan_task_find_symbol(t, sym);
	bool opt = option == NULL;

	if (s == NULL)
		return false;
	for (size_t i = 0; !opt && i < s->n_options; i++)
		opt = strcmp(s->options[i], option) == 0;
	return opt && fabs(s->score - score) < 1e-9;
}

static const char mm_conf[] =
    "IP_BL { type = \"ip\"; map = [\"203.0.113.0/24\", \"2001:db8::/32\"];\n"
    "  prefilter = true; action = \"reject\"; message = \"Blocked by local IP blacklist\"; }\n"
    "IP_OK { type = \"ip\"; map = [\"192.0.2.1\"]; prefilter = true; action = \"accept\"; }\n"
    "FROM_DOM { type = \"from\"; filter = \"email:domain\"; map = [\"Example.ORG\"];\n"
    "  score = 3.5; description = \"listed domain\"; }\n"
    "FROM_ADDR { type = \"from\"; map = [\"x@addr.example\"]; score = 1; }\n"
    "MIME_FROM { type = \"from\"; extract_from = \"mime\"; filter = \"email:domain\";\n"
    "  map = [\"mime.example\"]; score = 1.25; }\n"
    "RCPT_USER { type = \"rcpt\"; filter = \"email:user\"; map = [\"postmaster\"]; score = 2; }\n"
    "RCPT_MIME { type = \"rcpt\"; extract_from = \"mime\"; filter = \"email:domain\";\n"
    "  map = [\"cc.example\"]; score = 0.5; }\n"
    "HDR { type = \"header\"; header = \"X-Mailer\"; map = [\"badmailer 1.0\"]; score = 4; }\n"
    "HDR_RE { type = \"header\"; header = \"Subject\"; regexp = true; map = [\"/viagra/i\"];\n"
    "  score = 5; }\n"
    "URL_HOST { type = \"url\"; map = [\"evil.example\"]; score = 6; }\n"
    "URL_TLD { type = \"url\"; filter = \"tld\"; map = [\"parent.example\"]; score = 1; }\n"
    "HELO_GLOB { type = \"helo\"; glob = true; map = [\"*.dynamic.example\"]; score = 1.5; }\n"
    "HOST { type = \"hostname\"; map = [\"mx.example.net\"]; score = 0.5; }\n"
    "ASN_RULE { type = \"asn\"; map = [\"AS64496\"]; score = 1; }\n"
    "OFF { type = \"ip\"; map = [\"198.51.100.1\"]; enabled = false; }\n";

static void
test_types(void)
{
	const char *files[] = { "multimap.conf", mm_conf, NULL };
	struct scan_task *t;
	char *err = load(files);

	test_begin("multimap: each type, plain scores and options");
	test_assert(err == NULL);
	if (err != NULL) {
		printf("%s\n", err);
		free(err);
		test_end();
		return;
	}
	t = scan_task_new(eng, msg_plain, strlen(msg_plain));
	t->env.ip = "198.51.100.7";
	t->env.from = "someone@example.org";
	t->env.rcpts = (const char *[]){ "postmaster@example.net", "x@y.example" };
	t->env.n_rcpts = 2;
	t->env.helo = "host-1.Dynamic.example";
	t->env.hostname = "mx.example.net";
	scan_task_process(t);
	test_assert(has(t, "FROM_DOM", "example.org", 3.5));
	test_assert(!has(t, "FROM_ADDR", NULL, 1));
	test_assert(has(t, "MIME_FROM", "Mime.Example", 1.25));
	test_assert(has(t, "RCPT_USER", "postmaster", 2));
	test_assert(has(t, "RCPT_MIME", "cc.example", 0.5));
	test_assert(has(t, "HDR", "BadMailer 1.0", 4));
	test_assert(has(t, "HDR_RE", "Cheap VIAGRA here", 5));
	test_assert(has(t, "URL_HOST", "evil.example", 6));
	test_assert(has(t, "URL_TLD", "parent.example", 1));
	test_assert(has(t, "HELO_GLOB", "host-1.Dynamic.example", 1.5));
	test_assert(has(t, "HOST", "mx.example.net", 0.5));
	test_assert(scan_task_find_symbol(t, "IP_BL") == NULL);
	test_assert(t->pre_action == NULL);
	test_assert(scan_engine_symbol(eng, "ASN_RULE") == NULL);
	test_assert(scan_engine_symbol(eng, "OFF") == NULL);
	test_assert(scan_engine_symbol(eng, "FROM_DOM") != NULL &&
	    streq(scan_engine_symbol(eng, "FROM_DOM")->group, "multimap"));
	scan_task_free(&t);
	test_end();

	test_begin("multimap: prefilter pre-results");
	t = scan(msg_plain, "203.0.113.7", "x@addr.example", NULL);
	test_assert(has(t, "IP_BL", "203.0.113.7", 0));
	test_assert(streq(t->action, "reject"));
	test_assert(streq(t->pre_message, "Blocked by local IP blacklist"));
	test_assert(streq(t->pre_module, "multimap"));
	test_assert(scan_task_find_symbol(t, "FROM_ADDR") == NULL); /* filters skipped */
	scan_task_free(&t);
	t = scan(msg_plain, "2001:db8:5::1", NULL, NULL);
	test_assert(has(t, "IP_BL", "2001:db8:5::1", 0) && streq(t->action, "reject"));
	scan_task_free(&t);
	t = scan(msg_plain, "::ffff:203.0.113.9", NULL, NULL);
	test_assert(streq(t->action, "reject"));
	scan_task_free(&t);
	t = scan(msg_plain, "192.0.2.1", "x@addr.example", NULL);
	test_assert(has(t, "IP_OK", "192.0.2.1", 0));
	test_assert(streq(t->action, "no action"));
	test_assert(streq(t->pre_message, "Matched map: IP_OK"));
	scan_task_free(&t);
	t = scan("Subject: hi\r\n\r\nx\r\n", "192.0.2.2", "X@Addr.Example", NULL);
	test_assert(has(t, "FROM_ADDR", "X@Addr.Example", 1) && t->pre_action == NULL);
	scan_task_free(&t);
	test_end();
}

static const char wl_conf[] =
    "whitelist_domains = [\"trusted.example\", \"partner.example\"];\n"
    "whitelist_ip = [\"192.0.2.0/24\"];\n"
    "rules { WL_RSPAMD { domains = [\"rspamd-style.example\"]; score = -3; }\n"
    "        WL_SPF { valid_spf = true; domains = [\"spf.example\"]; } }\n";
static const char bl_conf[] =
    "blacklist_domains = [\"bad.example\"];\nblacklist_ip = [\"203.0.113.7\", \"2001:db8:bad::/48\"];\n";

static void
test_tutorial(void)
{
	const char *files[] = { "whitelist.conf", wl_conf, "blacklist.conf", bl_conf, NULL };
	const char *hdr = "From: a@trusted.example\r\nSubject: hi\r\n\r\nhello\r\n";
	struct scan_task *t;
	char *err = load(files);

	test_begin("tutorial whitelist/blacklist files");
	test_assert(err == NULL);
	free(err);
	if (eng == NULL) {
		test_end();
		return;
	}
	t = scan(hdr, "198.51.100.1", "a@trusted.example", NULL);
	test_assert(has(t, "WHITELIST_DOMAIN", "trusted.example", -20));
	test_assert(streq(t->action, "no action") && t->score <= -20);
	scan_task_free(&t);
	/* header From alone is enough */
	t = scan(hdr, "198.51.100.1", "", NULL);
	test_assert(has(t, "WHITELIST_DOMAIN", "trusted.example", -20));
	scan_task_free(&t);
	t = scan("Subject: hi\r\n\r\nhello\r\n", "192.0.2.77", NULL, NULL);
	test_assert(has(t, "WHITELIST_IP", "192.0.2.77", -20));
	test_assert(streq(t->action, "no action"));
	scan_task_free(&t);
	t = scan("Subject: hi\r\n\r\nhello\r\n", "203.0.113.7", NULL, NULL);
	test_assert(has(t, "BLACKLIST_IP", "203.0.113.7", 20));
	test_assert(streq(t->action, "reject"));
	test_assert(streq(t->pre_message, "Blocked by local blacklist"));
	scan_task_free(&t);
	t = scan("Subject: hi\r\n\r\nhello\r\n", "2001:db8:bad:1::2", "u@BAD.example", NULL);
	test_assert(has(t, "BLACKLIST_IP", "2001:db8:bad:1::2", 20));
	test_assert(streq(t->action, "reject"));
	scan_task_free(&t);
	t = scan("Subject: hi\r\n\r\nhello\r\n", "198.51.100.1", "u@BAD.example", NULL);
	test_assert(has(t, "BLACKLIST_DOMAIN", "BAD.example", 20));
	test_assert(streq(t->action, "reject"));
	scan_task_free(&t);
	test_end();

	test_begin("blacklisted IP wins over a whitelisted sender");
	t = scan(hdr, "203.0.113.7", "a@trusted.example", NULL);
	test_assert(streq(t->action, "reject"));
	test_assert(scan_task_find_symbol(t, "BLACKLIST_IP") != NULL);
	scan_task_free(&t);
	test_end();

	test_begin("whitelist rules {} (Rspamd's whitelist module form)");
	t = scan("From: z@rspamd-style.example\r\nSubject: hi\r\n\r\nx\r\n", "198.51.100.1",
	    NULL, NULL);
	test_assert(has(t, "WL_RSPAMD", "rspamd-style.example", -3));
	test_assert(t->pre_action == NULL);
	scan_task_free(&t);
	t = scan("From: z@spf.example\r\nSubject: hi\r\n\r\nx\r\n", "198.51.100.1", NULL, NULL);
	test_assert(scan_task_find_symbol(t, "WL_SPF") == NULL);
	test_assert(scan_engine_symbol(eng, "WL_SPF") != NULL);
	scan_task_free(&t);
	test_end();
}

static void
test_errors(void)
{
	const char *bad_action[] = { "multimap.conf",
		"X {\n type = \"ip\";\n map = [\"1.2.3.4\"];\n action = \"explode\"; }\n", NULL };
	const char *http[] = { "multimap.conf",
		"X { type = \"ip\"; map = \"https://maps.example/x.map\"; }\n", NULL };
	const char *bad_ip[] = { "blacklist.conf", "blacklist_ip = [\"300.1.1.1\"];\n", NULL };
	const char *no_hdr[] = { "multimap.conf", "X { type = \"header\"; map = [\"a\"]; }\n", NULL };
	char *err;

	test_begin("config errors name the file and line");
	err = load(bad_action);
	test_assert(err != NULL && strstr(err, "multimap.conf:") != NULL &&
	    strstr(err, "explode") != NULL);
	free(err);
	err = load(http);
	test_assert(err != NULL && strstr(err, "not supported yet") != NULL);
	free(err);
	err = load(bad_ip);
	test_assert(err != NULL && strstr(err, "blacklist.conf:1") != NULL &&
	    strstr(err, "300.1.1.1") != NULL);
	free(err);
	err = load(no_hdr);
	test_assert(err != NULL && strstr(err, "header") != NULL);
	free(err);
	test_end();
}

static void
test_file_reload(void)
{
	char conf[1024], path[512];
	const char *files[] = { "multimap.conf", conf, "options.inc", "map_watch_interval = 0;\n",
		NULL };
	struct scan_task *t;
	char *err;

	test_begin("file map edited between scans");
	snprintf(path, sizeof(path), "%s/bl.map", dir);
	snprintf(conf, sizeof(conf), "FILE_BL { type = \"from\"; filter = \"email:domain\";\n"
	    " map = \"file://%s\"; prefilter = true; action = \"reject\"; }\n", path);
	write_file("bl.map", "# blocked\none.example\n");
	err = load(files);
	test_assert(err == NULL);
	free(err);
	if (eng == NULL) {
		test_end();
		return;
	}
	t = scan("Subject: x\r\n\r\nx\r\n", NULL, "a@one.example", NULL);
	test_assert(streq(t->action, "reject"));
	scan_task_free(&t);
	write_file("bl.map", "two.example # moved\n");
	t = scan("Subject: x\r\n\r\nx\r\n", NULL, "a@one.example", NULL);
	test_assert(t->pre_action == NULL);
	scan_task_free(&t);
	t = scan("Subject: x\r\n\r\nx\r\n", NULL, "a@two.example", NULL);
	test_assert(t->pre_action != NULL && streq(t->action, "reject"));
	scan_task_free(&t);
	unlink(path);
	test_end();
}

int
main(void)
{
	char ld[600];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(ld, sizeof(ld), "%s/local.d", dir);
	mkdir(ld, 0700);
	setenv("RSPAMD_LOCAL_CONFDIR", dir, 1);
	test_types();
	test_tutorial();
	test_errors();
	test_file_reload();
	drop();
	{
		const char *n[] = { "multimap.conf", "whitelist.conf", "blacklist.conf",
			"options.inc" };

		for (size_t i = 0; i < 4; i++) {
			char p[700];

			snprintf(p, sizeof(p), "%s/%s", ld, n[i]);
			unlink(p);
		}
	}
	rmdir(ld);
	rmdir(dir);
	return test_exit();
}
