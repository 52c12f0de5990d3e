/*
 * Unit tests for the Bayes statistics: tokenizer (words, CJK segmentation,
 * case folding, bounds, OSB), classifier arithmetic, the LMDB backend
 * (learn, lookup, 208 on a repeat, relearn into the other class, 204 on
 * too few tokens, kill -9 during learns), and a scan after training on the
 * corpus TRAIN split ($CORPUS_DIR).
 */
#include "config/config.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "mime/message.h"
#include "scan/bayes/bayes.h"
#include "scan/bayes/bayes_internal.h"
#include "scan/engine.h"
#include "scan/task.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_bayes.XXXXXX";
static struct config *cfg;
static struct scan_engine *eng;

static size_t
words_of(const char *text, uint64_t *w, size_t max)
{
	struct pool *pool = pool_new(0);
	struct bayes_tok_opts o;
	size_t n = 0;

	bayes_tok_defaults(&o);
	test_assert(bayes_words(pool, text, strlen(text), &o, w, max, &n) == 0);
	pool_free(&pool);
	return n;
}

static void
test_tokenizer(void)
{
	uint64_t w[64], out[64];
	size_t n;

	test_begin("tokenizer: words, folding, CJK, OSB");
	n = words_of("Hello, HELLO hello! a 12 x", w, 64);
	test_assert(n == 4); /* lone letters dropped, 12 kept */
	test_assert(w[0] == w[1] && w[1] == w[2] && w[2] != w[3]);
	n = words_of("Straße STRASSE", w, 64);
	test_assert(n == 2 && w[0] == w[1]);
	n = words_of("我们今天去北京天安门广场看升旗仪式", w, 64);
	test_assert(n >= 5);
	n = words_of("日本語のテキストを正しく分割できますか", w, 64);
	test_assert(n >= 4);
	n = words_of("one two three four five six seven eight nine ten", w, 64);
	test_assert(n == 10);
	test_assert(bayes_osb(w, n, 5, out) == 30);
	test_assert(bayes_osb(w, 3, 5, out) == 3);
	test_end();
}

static void
test_tokenizer_bounds(void)
{
	size_t len = 20u * 1024 * 1024, nt = 0, nw = 0;
	char *big = xmalloc(len + 200);
	struct pool *pool = pool_new(0);
	struct bayes_tok_opts o;
	struct mime_message *m;
	uint64_t *h;
	clock_t t0 = clock();
	int off;

	test_begin("tokenizer: bounded on a huge message");
	off = snprintf(big, 200, "Subject: big\r\nContent-Type: text/plain\r\n\r\n");
	for (size_t i = (size_t)off; i < len; i++)
		big[i] = "lorem ipsum dolor sit amet "[i % 27];
	m = mime_parse(pool, big, len, NULL, NULL);
	bayes_tok_defaults(&o);
	test_assert(m != NULL && bayes_tokenize(pool, m, &o, &h, &nt, &nw) == 0);
	test_assert(nw == o.max_words);
	test_assert(nt > 10 && nt < 200);
	test_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
	pool_free(&pool);
	free(big);
	test_end();
}

static void
test_classifier_math(void)
{
	struct bayes_cls_opts o;
	struct bayes_token t[40];
	size_t used;
	double p;

	test_begin("classifier arithmetic");
	bayes_cls_defaults(&o);
	test_assert(fabs(bayes_chi2q(2.0, 2) - exp(-1.0)) < 1e-12);
	test_assert(fabs(bayes_chi2q(4.0, 4) - 3.0 * exp(-2.0)) < 1e-12);
	test_assert(bayes_chi2q(0.0, 10) == 1.0);
	test_assert(bayes_chi2q(5000.0, 600) < 1e-100);
	test_assert(fabs(bayes_token_prob(10, 0, 100, 100, &o) - 10.5 / 11.0) < 1e-12);
	test_assert(fabs(bayes_token_prob(0, 0, 100, 100, &o) - 0.5) < 1e-12);
	/* Same frequency with unequal class sizes: neutral. */
	test_assert(fabs(bayes_token_prob(10, 20, 100, 200, &o) - 0.5) < 1e-12);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 40; i++) {
		t[i].spam = 30;
		t[i].ham = 1;
	}
	p = bayes_classify(t, 40, 100, 100, &o, &used);
	test_assert(used == 40 && p > 0.99);
	for (int i = 0; i < 40; i++) {
		t[i].spam = 1;
		t[i].ham = 30;
	}
	p = bayes_classify(t, 40, 100, 100, &o, &used);
	test_assert(p < 0.01);
	/* Conflicting evidence stays near the middle. */
	for (int i = 0; i < 20; i++) {
		t[i].spam = 30;
		t[i].ham = 1;
	}
	p = bayes_classify(t, 40, 100, 100, &o, &used);
	test_assert(fabs(p - 0.5) < 0.05);
	test_assert(bayes_classify(t, 0, 100, 100, &o, &used) == 0.5 && used == 0);
	test_end();
}

struct learn_res {
	int status;
	char msg[256];
};

static void
learn_cb(struct scan_task *task, int status, const char *message, void *ud)
{
	struct learn_res *r = ud;

	(void)task;
	r->status = status;
	snprintf(r->msg, sizeof(r->msg), "%s", message != NULL ? message : "");
}

static int
learn_text(const char *data, size_t len, bool spam, struct learn_res *r)
{
	struct scan_task *t = scan_task_new(eng, data, len);

	r->status = -1;
	bayes_learn(t, spam, learn_cb, r);
	scan_task_free(&t);
	return r->status;
}

static void
stat_cb(int rc, const struct bayes_stat *st, void *ud)
{
	struct bayes_stat *out = ud;

	test_assert(rc == 0);
	if (st != NULL)
		*out = *st;
}

static const char msg1[] =
    "From: Seller <deals@shop.example>\r\nTo: you@example.net\r\n"
    "Subject: Cheap watches and pills\r\nMessage-ID: <abc123@example.net>\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "Buy cheap replica watches today, limited offer, click the link and order now "
    "while supplies last, best prices guaranteed for everyone.\r\n";

static void
test_learn(void)
{
	struct learn_res r;
	struct bayes_stat st;
	static const char shortmsg[] = "Subject: hi\r\n\r\nok then\r\n";

	test_begin("learn: 200, 208, relearn moves, 204");
	test_assert(bayes_enabled(eng));
	test_assert(learn_text(msg1, strlen(msg1), true, &r) == BAYES_LEARN_OK);
	test_assert(learn_text(msg1, strlen(msg1), true, &r) == BAYES_LEARN_ALREADY);
	test_assert(strcmp(r.msg, "<abc123@example.net> has been already learned as spam, "
	    "ignore it") == 0);
	bayes_get_stat(eng, NULL, stat_cb, &st);
	test_assert(st.n_files == 2 && st.files[0].learned == 1 && st.files[1].learned == 0);
	test_assert(strcmp(st.files[0].symbol, "BAYES_SPAM") == 0);
	test_assert(strcmp(st.files[0].type, "lmdb") == 0 && st.files[0].tokens > 30);
	test_assert(learn_text(msg1, strlen(msg1), false, &r) == BAYES_LEARN_OK);
	bayes_get_stat(eng, NULL, stat_cb, &st);
	test_assert(st.files[0].learned == 0 && st.files[1].learned == 1);
	test_assert(st.total_learns == 1);
	test_assert(learn_text(shortmsg, strlen(shortmsg), true, &r) == BAYES_LEARN_SKIPPED);
	test_assert(strstr(r.msg, "<undef> contains less tokens than required for bayes "
	    "classifier: ") == r.msg);
	/* Back to spam for the rest of the tests to start from zero ham. */
	test_assert(learn_text(msg1, strlen(msg1), true, &r) == BAYES_LEARN_OK);
	test_end();
}

static void
lookup_cb(int rc, const struct bayes_totals *t, void *ud)
{
	struct bayes_totals *out = ud;

	test_assert(rc == 0);
	*out = *t;
}

static void
learn_done_cb(int status, void *ud)
{
	*(int *)ud = status;
}

#define KILL_TOKENS 2000

static void
child_learns(const char *path)
{
	struct obj *sec = obj_new_object();
	uint64_t *h = xcalloc(KILL_TOKENS, sizeof(*h));
	char *err = NULL;
	void *be;

	obj_object_set(sec, "path", obj_new_string(path));
	be = bayes_backend_lmdb.open(sec, cfg, NULL, &err);
	if (be == NULL)
		_exit(2);
	for (size_t i = 0; i < KILL_TOKENS; i++)
		h[i] = i + 1;
	for (uint64_t k = 0;; k++) {
		uint8_t digest[16] = { 0 };
		int status = 0;

		memcpy(digest, &k, sizeof(k));
		(void)bayes_backend_lmdb.learn(be, NULL, digest, (k % 3) != 0, h, KILL_TOKENS,
		    learn_done_cb, &status);
		if (status != BAYES_LEARN_OK)
			_exit(3);
	}
}

static void
test_kill9(void)
{
	char path[256];
	struct obj *sec = obj_new_object();
	struct bayes_token *t = xcalloc(KILL_TOKENS, sizeof(*t));
	struct bayes_totals tot = { 0, 0, 0, 0 };
	char *err = NULL;
	int status = 0;
	bool same = true;
	void *be;
	pid_t pid;

	test_begin("lmdb: kill -9 during learns leaves a consistent store");
	snprintf(path, sizeof(path), "%s/kill9", tmpdir);
	pid = fork();
	if (pid == 0)
		child_learns(path);
	usleep(700 * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	test_assert(WIFSIGNALED(status));
	obj_object_set(sec, "path", obj_new_string(path));
	be = bayes_backend_lmdb.open(sec, cfg, NULL, &err);
	test_assert(be != NULL);
	for (size_t i = 0; i < KILL_TOKENS; i++)
		t[i].hash = i + 1;
	if (be != NULL)
		(void)bayes_backend_lmdb.lookup(be, NULL, t, KILL_TOKENS, lookup_cb, &tot);
	test_assert(tot.learned_spam + tot.learned_ham > 0);
	for (size_t i = 0; i < KILL_TOKENS; i++)
		same = same && t[i].spam == tot.learned_spam && t[i].ham == tot.learned_ham;
	test_assert(same);
	test_assert(tot.tokens == KILL_TOKENS);
	printf("  %llu learns committed before the kill\n",
	    (unsigned long long)(tot.learned_spam + tot.learned_ham));
	if (be != NULL)
		bayes_backend_lmdb.close(be);
	obj_free(&sec);
	free(t);
	test_end();
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted .eml paths of a corpus group. */
static size_t
list_group(const char *dir, const char *group, char ***names_r)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0, cap = 0;
	char **names = NULL;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, group);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		if (n == cap)
			names = xrealloc(names, (cap = cap * 2 + 64) * sizeof(*names));
		names[n] = xmalloc(strlen(path) + strlen(de->d_name) + 2);
		snprintf(names[n], strlen(path) + strlen(de->d_name) + 2, "%s/%s", path, de->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	*names_r = names;
	return n;
}

static int
learn_file(const char *path, bool spam)
{
	struct learn_res r;
	size_t len;
	char *data = test_read_file(path, &len);
	int rc = data != NULL ? learn_text(data, len, spam, &r) : -1;

	free(data);
	return rc;
}

static bool
scan_file_spam(const char *path, bool *ham_r)
{
	size_t len;
	char *data = test_read_file(path, &len);
	struct scan_task *t;
	bool spam;

	if (data == NULL)
		return false;
	t = scan_task_new(eng, data, len);
	scan_task_process(t);
	spam = scan_task_find_symbol(t, "BAYES_SPAM") != NULL;
	*ham_r = scan_task_find_symbol(t, "BAYES_HAM") != NULL;
	scan_task_free(&t);
	free(data);
	return spam;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
test_corpus(void)
{
	const char *dir = getenv("CORPUS_DIR");
	char **spam = NULL, **ham = NULL;
	size_t ns, nh, ok = 0, spam_hits = 0, ham_spam = 0, ham_hits = 0, h;
	bool is_ham = false;

	if (dir == NULL || (ns = list_group(dir, "spam-1", &spam)) < 450 ||
	    (nh = list_group(dir, "easy-ham-1", &ham)) < 2200) {
		printf("  CORPUS_DIR not set or incomplete: corpus test skipped\n");
		return;
	}
	test_begin("scan after training on TRAIN: BAYES_SPAM on spam, not on ham");
	for (size_t i = 0; i < 300; i++)
		ok += learn_file(spam[i], true) == BAYES_LEARN_OK;
	for (size_t i = 0; i < 300; i++)
		ok += learn_file(ham[i], false) == BAYES_LEARN_OK;
	/* A few TRAIN messages are duplicates (208) or nearly empty (204). */
	test_assert(ok >= 570);
	for (size_t i = 400; i < 450; i++)
		spam_hits += scan_file_spam(spam[i], &is_ham);
	for (h = 2100; h < 2200; h++) {
		ham_spam += scan_file_spam(ham[h], &is_ham);
		ham_hits += is_ham;
	}
	printf("  BAYES_SPAM on %zu/50 spam; on ham: BAYES_SPAM %zu/100, BAYES_HAM %zu/100\n",
	    spam_hits, ham_spam, ham_hits);
	test_assert(spam_hits >= 40);
	test_assert(ham_spam <= 2 && ham_hits >= 80);
	free_names(spam, ns);
	free_names(ham, nh);
	test_end();
}

static int
setup(void)
{
	char path[300], *err = NULL;
	FILE *f;

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/rspamd.conf", tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "classifier \"bayes\" {\n backend = \"lmdb\";\n path = \"%s/db\";\n"
	    " min_learns = 200;\n min_tokens = 11;\n"
	    " statfile { symbol = \"BAYES_SPAM\"; spam = true; }\n"
	    " statfile { symbol = \"BAYES_HAM\"; spam = false; }\n}\n", tmpdir);
	fclose(f);
	if (config_load(path, tmpdir, &cfg, &err) < 0) {
		printf("config: %s\n", err);
		return -1;
	}
	if ((eng = scan_engine_new(cfg, &err)) == NULL) {
		printf("engine: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(void)
{
	char cmd[300];

	if (setup() < 0)
		return 1;
	test_tokenizer();
	test_tokenizer_bounds();
	test_classifier_math();
	test_learn();
	test_kill9();
	test_corpus();
	scan_engine_free(&eng);
	config_unref(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", tmpdir);
	return test_exit();
}
