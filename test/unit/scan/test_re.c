/*
 * Unit tests for scan/re: a regexp rule of every scan kind fires on a
 * crafted message and not on a control one; boolean and counting
 * expressions; functions; rule references; the PCRE2 fallback; the disk
 * cache (warm load, changed rule set, corrupt file); config errors.
 */
#include "config/config.h"
#include "scan/engine.h"
#include "scan/re/re_engine.h"
#include "scan/task.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static const char spam[] =
    "From: Bot <bot@spam.example>\r\n"
    "To: you@example.net\r\n"
    "Subject: =?utf-8?Q?Buy_viagra?=\r\n"
    "X-Mailer: SpamBot 1.0\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
    "\r\n"
    "--XYZ\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "cheap\r\npills now, cheap cheap pills, pill pill.\r\n"
    "Visit http://example.biz/buy or write to sales@spam.example\r\n"
    "--XYZ\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Disposition: inline; filename=\"evil.exe.html\"\r\n"
    "\r\n"
    "<html><body><b>cheap</b> offer</body></html>\r\n"
    "--XYZ--\r\n";

static const char ham[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: lunch\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "See you at noon. http://example.org/menu\r\n";

static const char rules[] =
    "regexp {\n"
    " R_HEADER { re = 'Subject=/vi[a@]gra/i{header}'; score = 2.5; description = 'd'; group = 'g'; }\n"
    " R_HEADER_H = 'X-Mailer=/^spambot/iH';\n"
    " R_RAW_HEADER { re = 'Subject=/=\\?utf-8\\?Q\\?/i{raw_header}'; }\n"
    " R_MIME_HEADER { re = 'Content-Disposition=/evil\\.exe/{mime_header}'; }\n"
    " R_ALL_HEADER { re = '/X-Mailer: SpamBot/{all_header}'; }\n"
    " R_BODY { re = '/boundary=\"XYZ\"/{body}'; }\n"
    " R_MIME { re = '/pills now/{mime}'; }\n"
    " R_RAW_MIME { re = '/<b>cheap<\\/b>/i{raw_mime}'; }\n"
    " R_SA_BODY { re = '/viagra cheap pills/i{sa_body}'; }\n"
    " R_SA_RAW_BODY { re = '/cheap\\r?\\npills/{sa_raw_body}'; }\n"
    " R_URL { re = '/example\\.biz\\/buy/{url}'; }\n"
    " R_EMAIL { re = '/@spam\\.example$/{email}'; }\n"
    " R_BOOL { re = 'Subject=/viagra/i{header} & !/nomatchxyz/{body} & (R_URL | /zzzz/{mime})'; }\n"
    " R_BOOL_NO { re = 'Subject=/viagra/i{header} & /nomatchxyz/{body}'; }\n"
    " R_COUNT { re = '/pill/iA{body} >= 4'; }\n"
    " R_COUNT_NO { re = '/pill/iA{body} >= 40'; }\n"
    " R_SUM { re = '/cheap/i{mime} + /pills/i{mime} + /nothere/{mime} >= 2'; }\n"
    " R_SUM_NO { re = '/cheap/i{mime} + /nothere/{mime} + /nothere2/{mime} >= 2'; }\n"
    " R_BACKREF { re = '/(cheap) \\1/i{mime}'; }\n"
    " R_LOOKBEHIND { re = 'Subject=/(?<=buy )viagra/i'; }\n"
    " R_FUNC { re = \"header_exists('X-Mailer') & has_content_part('text/html')\"; }\n"
    " R_FUNC_NO { re = \"header_exists('X-Nope') | has_content_part('image/png')\"; }\n"
    " R_REF { re = 'R_HEADER & R_FUNC & !R_FUNC_NO'; }\n"
    "}\n";

/* Kinds that must fire on spam and stay quiet on ham. */
static const char *const fire[] = {
	"R_HEADER", "R_HEADER_H", "R_RAW_HEADER", "R_MIME_HEADER", "R_ALL_HEADER", "R_BODY",
	"R_MIME", "R_RAW_MIME", "R_SA_BODY", "R_SA_RAW_BODY", "R_URL", "R_EMAIL", "R_BOOL",
	"R_COUNT", "R_SUM", "R_BACKREF", "R_LOOKBEHIND", "R_FUNC", "R_REF",
};
static const char *const quiet[] = { "R_BOOL_NO", "R_COUNT_NO", "R_SUM_NO", "R_FUNC_NO" };

static int
write_conf(const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rspamd.conf", tmpdir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

/* Builds an engine over `conf`; NULL with *error_r on failure. */
static struct scan_engine *
build(const char *conf, char **error_r)
{
	struct config *cfg = NULL;
	struct scan_engine *eng;
	char path[512];

	*error_r = NULL;
	if (write_conf(conf) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/rspamd.conf", tmpdir);
	if (config_load(path, tmpdir, &cfg, error_r) < 0) {
		printf("  config: %s\n", *error_r);
		return NULL;
	}
	eng = scan_engine_new(cfg, error_r);
	config_unref(&cfg);
	return eng;
}

static struct scan_task *
scan(struct scan_engine *eng, const char *msg)
{
	struct scan_task *t = scan_task_new(eng, msg, strlen(msg));

	scan_task_process(t);
	return t;
}

static bool
fires_all(struct scan_engine *eng)
{
	struct scan_task *t = scan(eng, spam), *h = scan(eng, ham);
	bool ok = true;

	for (size_t i = 0; i < sizeof(fire) / sizeof(fire[0]); i++) {
		if (scan_task_find_symbol(t, fire[i]) == NULL) {
			printf("  %s did not fire on spam\n", fire[i]);
			ok = false;
		}
		if (scan_task_find_symbol(h, fire[i]) != NULL) {
			printf("  %s fired on ham\n", fire[i]);
			ok = false;
		}
	}
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		if (scan_task_find_symbol(t, quiet[i]) != NULL) {
			printf("  %s fired on spam\n", quiet[i]);
			ok = false;
		}
	}
	const struct scan_symbol *s = scan_task_find_symbol(t, "R_HEADER");
	ok = ok && s != NULL && s->score == 2.5;
	scan_task_free(&t);
	scan_task_free(&h);
	return ok;
}

static void
test_kinds(void)
{
	struct re_engine_stats st;
	struct scan_engine *eng;
	char *err = NULL;

	test_begin("every kind, expressions, functions, fallback (cold)");
	eng = build(rules, &err);
	test_assert(eng != NULL);
	if (eng == NULL) {
		printf("  %s\n", err);
		free(err);
		test_end();
		return;
	}
	test_assert(fires_all(eng));
	re_engine_stats(eng, &st);
	test_assert(st.rules == 23);
	test_assert(st.pcre_patterns == 2);
	test_assert(st.dbs_compiled >= 10 && st.dbs_loaded == 0);
	const struct symbol_info *si = scan_engine_symbol(eng, "R_HEADER");
	test_assert(si != NULL && si->group != NULL && strcmp(si->group, "g") == 0);
	test_assert(re_engine_add_rule(eng, "LATE", "/x/{body}", NULL, NULL, NULL, &err) < 0);
	free(err);
	scan_engine_free(&eng);
	test_end();
}

static void
corrupt_cache(void)
{
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/db/hs_cache", tmpdir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".hsdb") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r+");
		if (f == NULL)
			continue;
		fseek(f, 40, SEEK_SET);
		fputs("garbage!", f);
		fclose(f);
	}
	closedir(d);
}

static void
test_cache(void)
{
	struct re_engine_stats st, cold;
	struct scan_engine *eng;
	char *err = NULL;
	char more[sizeof(rules) + 128];

	test_begin("disk cache: warm load, changed set, corrupt file");
	eng = build(rules, &err);
	test_assert(eng != NULL);
	re_engine_stats(eng, &st);
	test_assert(st.dbs_compiled == 0 && st.dbs_loaded >= 10);
	test_assert(st.pcre_patterns == 2);
	test_assert(fires_all(eng));
	scan_engine_free(&eng);

	/* one more body regexp: only the body kind recompiles */
	memcpy(more, rules, sizeof(rules));
	char *end = strrchr(more, '}');
	snprintf(end, sizeof(more) - (size_t)(end - more),
	    " R_NEW { re = '/newpattern/{body}'; }\n}\n");
	eng = build(more, &err);
	test_assert(eng != NULL);
	re_engine_stats(eng, &st);
	test_assert(st.dbs_compiled == 1);
	test_assert(st.dbs_loaded >= 9);
	scan_engine_free(&eng);

	eng = build(rules, &err);
	re_engine_stats(eng, &cold);
	scan_engine_free(&eng);
	corrupt_cache();
	eng = build(rules, &err);
	test_assert(eng != NULL);
	re_engine_stats(eng, &st);
	test_assert(st.dbs_cache_bad >= 10 && st.dbs_loaded == 0 && st.dbs_compiled >= 10);
	test_assert(fires_all(eng));
	scan_engine_free(&eng);
	test_end();
}

static bool
fails_with(const char *conf, const char *needle)
{
	char *err = NULL;
	struct scan_engine *eng = build(conf, &err);
	bool ok = eng == NULL && err != NULL && strstr(err, needle) != NULL;

	if (!ok)
		printf("  want error with '%s', got '%s'\n", needle, err != NULL ? err : "none");
	scan_engine_free(&eng);
	free(err);
	return ok;
}

static void
test_errors(void)
{
	test_begin("config errors name the rule");
	test_assert(fails_with("regexp { BAD1 { re = 'Subject=/x/ & ('; } }", "BAD1"));
	test_assert(fails_with("regexp { BAD2 = '/x/i'; }", "BAD2"));
	test_assert(fails_with("regexp { BAD3 = '/x/{words}'; }", "BAD3"));
	test_assert(fails_with("regexp { BAD4 = \"nofunc('a')\"; }", "BAD4"));
	test_assert(fails_with("regexp { BAD5 = '/x/{header}'; }", "BAD5"));
	test_assert(fails_with("regexp { C1 = 'C2'; C2 = 'C1 & /x/{body}'; }", "refers to itself"));
	test_assert(fails_with("regexp { BAD6 = '/(x/{body}'; }", "BAD6"));
	test_assert(fails_with("regexp { BAD7 { score = 1; } }", "BAD7"));
	test_end();
}

int
main(void)
{
	char cmd[600];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_re.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(cmd, sizeof(cmd), "%s/db", tmpdir);
	mkdir(cmd, 0755);
	test_kinds();
	test_cache();
	test_errors();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("cannot remove %s\n", tmpdir);
	return test_exit();
}
