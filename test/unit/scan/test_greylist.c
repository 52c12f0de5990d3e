/* Unit tests for the greylist module on its LMDB store: the verdict
 * arithmetic, client network masks, and whole scans through the shipped
 * conf/ with a temp local.d (multimap rules give the score) and a fake
 * clock: first sight greylists, a retry before the timeout still does, one
 * after it passes, records expire, the exempt cases stay untouched. */
#include "config/config.h"
#include "scan/engine.h"
#include "scan/greylist/greylist.h"
#include "scan/task.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

static char dir[] = "/tmp/test_greylist.XXXXXX";
static struct config *cfg;
static struct scan_engine *eng;
static double fake_now = 1800000000.0;

static double
fake_clock(void)
{
	return fake_now;
}

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

static void
drop(void)
{
	scan_engine_free(&eng);
	config_unref(&cfg);
}

static const char mm_conf[] =
    "GL_FIVE { type = \"from\"; map = [\"five@s.example\"]; score = 5; }\n"
    "GL_TEN { type = \"from\"; map = [\"ten@s.example\"]; score = 10; }\n"
    "GL_BIG { type = \"from\"; map = [\"big@s.example\"]; score = 20; }\n";

/* Loads conf/ with local.d/greylist.conf = `gl` (NULL: none). */
static bool
load(const char *gl)
{
	char path[600], *err = NULL;

	drop();
	snprintf(path, sizeof(path), "%s/local.d/greylist.conf", dir);
	unlink(path);
	write_file("local.d/multimap.conf", mm_conf);
	if (gl != NULL) {
		char text[1024];

		snprintf(text, sizeof(text), "%s", gl);
		write_file("local.d/greylist.conf", text);
	}
	if (config_load("conf/rspamd.conf", dir, &cfg, &err) < 0 ||
	    (eng = scan_engine_new(cfg, &err)) == NULL) {
		fprintf(stderr, "load: %s\n", err != NULL ? err : "?");
		free(err);
		return false;
	}
	return true;
}

struct env {
	const char *ip, *from, *rcpt, *user, *body;
};

static char msgbuf[2048];

static struct scan_task *
scan(const struct env *e)
{
	static const char *rcpts[1];
	struct scan_task *t;

	snprintf(msgbuf, sizeof(msgbuf),
	    "From: Sender <%s>\r\nTo: <%s>\r\nSubject: hello there\r\n"
	    "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <gl1@s.example>\r\n"
	    "Content-Type: text/plain\r\n\r\n%s\r\n", e->from, e->rcpt,
	    e->body != NULL ? e->body : "Hello, this is a plain test message.");
	t = scan_task_new(eng, msgbuf, strlen(msgbuf));
	t->env.ip = e->ip;
	t->env.from = e->from;
	t->env.user = e->user;
	rcpts[0] = e->rcpt;
	t->env.rcpts = rcpts;
	t->env.n_rcpts = 1;
	scan_task_process(t);
	return t;
}

static bool
has_opt(const struct scan_task *t, const char *option)
{
	const struct scan_symbol *s = scan_task_find_symbol(t, "GREYLIST");

	for (size_t i = 0; s != NULL && i < s->n_options; i++) {
		if (strcmp(s->options[i], option) == 0)
			return true;
	}
	return false;
}

/* Scans and checks the action and (NULL: no GREYLIST) one option. */
static bool
expect(const struct env *e, const char *action, const char *option)
{
	struct scan_task *t = scan(e);
	bool ok = strcmp(t->action, action) == 0 &&
	    (option == NULL ? scan_task_find_symbol(t, "GREYLIST") == NULL : has_opt(t, option));

	if (!ok) {
		const struct scan_symbol *s = scan_task_find_symbol(t, "GREYLIST");

		fprintf(stderr, "  got action %s score %.2f GREYLIST %s (%zu options)\n",
		    t->action, t->score, s != NULL ? "yes" : "no", s != NULL ? s->n_options : 0);
	}
	scan_task_free(&t);
	return ok;
}

static void
test_decide(void)
{
	struct greylist_rec none[2] = { { false, 0, 0 }, { false, 0, 0 } };
	struct greylist_rec both[2] = { { true, 100, 0 }, { true, 200, 0 } };
	struct greylist_rec one[2] = { { false, 0, 0 }, { true, 100, 0 } };
	double until;

	test_begin("greylist: verdicts");
	test_assert(greylist_decide(none, true, 300, 1000, &until) == GREYLIST_NEW);
	test_assert(fabs(until - 1300) < 1e-9);
	test_assert(greylist_decide(none, false, 300, 1000, &until) == GREYLIST_SKIP);
	test_assert(greylist_decide(both, false, 300, 250, &until) == GREYLIST_WAIT);
	test_assert(fabs(until - 400) < 1e-9);
	test_assert(greylist_decide(both, true, 300, 400, &until) == GREYLIST_PASS);
	/* one record, not old enough: another message, not a retry */
	test_assert(greylist_decide(one, true, 300, 200, &until) == GREYLIST_NEW);
	test_assert(greylist_decide(one, false, 300, 200, &until) == GREYLIST_SKIP);
	test_assert(greylist_decide(one, false, 300, 400, &until) == GREYLIST_PASS);
	test_end();
}

static void
test_masks(void)
{
	char out[64];

	test_begin("greylist: client network masks");
	test_assert(greylist_mask_ip("192.0.2.10", 19, 64, out, sizeof(out)) == 0 &&
	    strcmp(out, "192.0.0.0/19") == 0);
	test_assert(greylist_mask_ip("192.0.31.200", 19, 64, out, sizeof(out)) == 0 &&
	    strcmp(out, "192.0.0.0/19") == 0);
	test_assert(greylist_mask_ip("192.0.32.1", 19, 64, out, sizeof(out)) == 0 &&
	    strcmp(out, "192.0.32.0/19") == 0);
	test_assert(greylist_mask_ip("::ffff:192.0.2.10", 19, 64, out, sizeof(out)) == 0 &&
	    strcmp(out, "192.0.0.0/19") == 0);
	test_assert(greylist_mask_ip("2001:db8:1:2:ffff::9", 19, 64, out, sizeof(out)) == 0 &&
	    strcmp(out, "2001:db8:1:2::/64") == 0);
	test_assert(greylist_mask_ip("10.1.2.3", 32, 128, out, sizeof(out)) == 0 &&
	    strcmp(out, "10.1.2.3/32") == 0);
	test_assert(greylist_mask_ip("10.1.2.3", 0, 0, out, sizeof(out)) == 0 &&
	    strcmp(out, "0.0.0.0/0") == 0);
	test_assert(greylist_mask_ip("not an ip", 19, 64, out, sizeof(out)) < 0);
	test_end();
}

static void
test_off_by_default(void)
{
	struct env e = { "192.0.2.10", "five@s.example", "rcpt@d.example", NULL, NULL };

	test_begin("greylist: off without Redis or enabled = true");
	test_assert(load(NULL));
	test_assert(expect(&e, "greylist", NULL));
	test_assert(load("enabled = false;\n"));
	test_assert(expect(&e, "greylist", NULL));
	test_end();
}

static void
test_lifecycle(void)
{
	struct env e = { "192.0.2.10", "five@s.example", "rcpt@d.example", NULL, "body one" };
	struct scan_task *t;
	double t0 = fake_now;

	test_begin("greylist: first sight, retry, pass, expiry");
	test_assert(load("enabled = true;\n"));
	t = scan(&e);
	test_assert(strcmp(t->action, "soft reject") == 0);
	test_assert(t->pre_message != NULL && strcmp(t->pre_message, "Try again later") == 0);
	test_assert(has_opt(t, "greylisted") && has_opt(t, "new record"));
	scan_task_free(&t);
	fake_now = t0 + 60;
	test_assert(expect(&e, "soft reject", "greylisted"));
	t = scan(&e);
	test_assert(!has_opt(t, "new record"));
	scan_task_free(&t);
	fake_now = t0 + 301;
	/* passes; the "greylist" action becomes "no action" */
	test_assert(expect(&e, "no action", "pass"));
	/* a pass keeps the record a day from then */
	fake_now = t0 + 301 + 86000;
	test_assert(expect(&e, "no action", "pass"));
	/* each pass extends it again */
	fake_now = t0 + 301 + 86000 + 86399;
	test_assert(expect(&e, "no action", "pass"));
	fake_now += 86401;
	test_assert(expect(&e, "soft reject", "new record"));
	test_end();
}

static void
test_masked_network(void)
{
	struct env a = { "192.0.2.10", "ten@s.example", "x@d.example", NULL, "mask body a" };
	struct env b = { "192.0.31.200", "ten@s.example", "x@d.example", NULL, "mask body b" };
	struct env c = { "192.0.32.1", "ten@s.example", "x@d.example", NULL, "mask body c" };
	struct env v6a = { "2001:db8:1:2::1", "ten@s.example", "y@d.example", NULL, "v6 a" };
	struct env v6b = { "2001:db8:1:2:ffff::9", "ten@s.example", "y@d.example", NULL, "v6 b" };
	double t0;

	test_begin("greylist: the meta key masks the client address");
	test_assert(load("enabled = true;\n"));
	fake_now += 1000000;
	t0 = fake_now;
	test_assert(expect(&a, "soft reject", "new record"));
	test_assert(expect(&v6a, "soft reject", "new record"));
	fake_now = t0 + 300;
	/* same /19, same sender and recipient, other body: the meta record passes */
	test_assert(expect(&b, "add header", "pass"));
	test_assert(expect(&v6b, "add header", "pass"));
	/* another /19 and another body: unknown */
	test_assert(expect(&c, "soft reject", "new record"));
	test_end();
}

static void
test_exempt(void)
{
	struct env authed = { "192.0.2.50", "five@s.example", "z@d.example", "alice", "auth" };
	struct env low = { "192.0.2.51", "low@s.example", "z@d.example", NULL, "low score" };
	struct env big = { "192.0.2.52", "big@s.example", "z@d.example", NULL, "big score" };
	struct env wl = { "198.51.100.7", "five@s.example", "z@d.example", NULL, "wl" };
	struct env local = { "127.0.0.1", "five@s.example", "z@d.example", NULL, "local" };
	struct env noip = { NULL, "five@s.example", "z@d.example", NULL, "noip" };

	test_begin("greylist: exempt messages");
	test_assert(load("enabled = true;\nwhitelisted_ip = [\"198.51.100.0/24\"];\n"));
	fake_now += 1000000;
	test_assert(expect(&authed, "greylist", NULL));
	test_assert(expect(&low, "no action", NULL));
	/* nothing was recorded for it: a later spammy scan is a first sight */
	test_assert(expect(&big, "reject", NULL));
	test_assert(expect(&wl, "greylist", NULL));
	test_assert(expect(&local, "greylist", NULL));
	test_assert(expect(&noip, "greylist", NULL));
	test_assert(load("enabled = true;\ncheck_authed = true;\ncheck_local = true;\n"));
	test_assert(expect(&authed, "soft reject", "new record"));
	test_assert(expect(&local, "soft reject", "new record"));
	test_end();
}

static void
test_options(void)
{
	struct env e = { "203.0.113.9", "low@s.example", "o@d.example", NULL, "options" };
	struct env f = { "203.0.113.9", "five@s.example", "o@d.example", NULL, "options 2" };
	struct scan_task *t;

	test_begin("greylist: min score, action, message, timeout");
	test_assert(load("enabled = true;\ngreylist_min_score = -100;\ntimeout = 10s;\n"
	    "action = \"reject\";\nmessage = \"Come back\";\nreport_time = true;\n"));
	fake_now += 1000000;
	t = scan(&e);
	test_assert(strcmp(t->action, "reject") == 0);
	test_assert(t->pre_message != NULL && strncmp(t->pre_message, "Come back: ", 11) == 0);
	scan_task_free(&t);
	fake_now += 10;
	test_assert(expect(&e, "no action", "pass"));
	test_assert(load("enabled = true;\ngreylist_min_score = 6;\n"));
	test_assert(expect(&f, "greylist", NULL));
	test_assert(load("enabled = true;\nipv4_mask = 33;\n") == false);
	test_assert(load("enabled = true;\naction = \"nonsense\";\n") == false);
	test_end();
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The default store path is <state>/db/greylist.mdb. */
static void
test_default_path(void)
{
	char p[700];
	struct stat st;

	test_begin("greylist: LMDB file under the state dir");
	snprintf(p, sizeof(p), "%s/db/greylist.mdb", dir);
	test_assert(stat(p, &st) == 0 && S_ISREG(st.st_mode));
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
	/* the Hyperscan cache makes the reloads below fast */
	snprintf(ld, sizeof(ld), "%s/db", dir);
	mkdir(ld, 0700);
	snprintf(ld, sizeof(ld), "%s/db/hs_cache", dir);
	mkdir(ld, 0700);
	setenv("RSPAMD_LOCAL_CONFDIR", dir, 1);
	greylist_set_clock(fake_clock);
	test_decide();
	test_masks();
	test_off_by_default();
	test_lifecycle();
	test_masked_network();
	test_exempt();
	test_options();
	test_default_path();
	drop();
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_exit();
}
