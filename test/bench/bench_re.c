/*
 * bench_re - regexp rules at scale: 5,000 generated regexps (literals with
 * classes, alternations and bounded repeats, spread over the mime, header,
 * body and url kinds) are compiled cold (empty Hyperscan cache), then
 * loaded warm from the disk cache, then run over the corpus.
 *
 * Usage: bench_re [-n RULES] [-m MAX_MESSAGES] [CORPUS_DIR]
 * (default corpus: $CORPUS_DIR or /work/shared/corpus). The engine is the
 * real one (scan_engine_new over a generated config), so "cold" and "warm"
 * are what a daemon start and a restart cost; the scan figure includes
 * MIME parsing and the built-in checks.
 */
#include "config/config.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "scan/engine.h"
#include "scan/re/re_engine.h"
#include "scan/task.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static unsigned long long seed = 88172645463325252ull;

static unsigned
rnd(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed % n);
}

static const char *const words[] = {
	"free", "money", "offer", "click", "viagra", "winner", "prize", "cash", "loan",
	"credit", "casino", "dating", "pharmacy", "discount", "urgent", "account", "verify",
	"password", "bank", "lottery", "million", "investment", "bitcoin", "crypto", "deal",
	"limited", "unsubscribe", "guarantee", "miracle", "weight", "rolex", "replica",
};

/* One pattern of a few pieces: word, class, alternation, repeat. */
static void
gen_pattern(char *buf, size_t size, unsigned i)
{
	const char *a = words[rnd(ARRAY_SIZE(words))], *b = words[rnd(ARRAY_SIZE(words))];
	const char *c = words[rnd(ARRAY_SIZE(words))];

	switch (rnd(5)) {
	case 0:
		snprintf(buf, size, "%s[\\\\s_-]+%s%u", a, b, i);
		break;
	case 1:
		snprintf(buf, size, "(?:%s|%s|%s)\\\\d{1,3}x%u", a, b, c, i);
		break;
	case 2:
		snprintf(buf, size, "%.3s[a-z]{2,6}%s %u", a, b, i);
		break;
	case 3:
		snprintf(buf, size, "\\\\b%s\\\\W{1,4}(%s|%s)[0-9]%u", a, b, c, i);
		break;
	default:
		snprintf(buf, size, "%s.{0,20}%s_%u", a, b, i);
		break;
	}
}

static char *
gen_conf(unsigned n)
{
	size_t cap = (size_t)n * 160 + 64, len = 0;
	char *conf = xmalloc(cap), pat[128];
	static const char *const kinds[] = { "{mime}", "{mime}", "{mime}", "{body}", "{url}",
		"{sa_body}" };

	len += (size_t)snprintf(conf, cap, "regexp {\n");
	for (unsigned i = 0; i < n; i++) {
		gen_pattern(pat, sizeof(pat), i);
		unsigned k = rnd(8);
		if (k < 6)
			len += (size_t)snprintf(conf + len, cap - len, " B_%u { re = \"/%s/i%s\"; "
			    "score = 0.1; }\n", i, pat, kinds[k]);
		else
			len += (size_t)snprintf(conf + len, cap - len, " B_%u { re = \"Subject=/%s/i\"; "
			    "score = 0.1; }\n", i, pat);
	}
	snprintf(conf + len, cap - len, "}\n");
	return conf;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct scan_engine *
build(const char *path, double *secs_r, struct re_engine_stats *st)
{
	struct config *cfg = NULL;
	struct scan_engine *eng;
	char *err = NULL;
	double t0 = now();

	if (config_load(path, tmpdir, &cfg, &err) < 0 ||
	    (eng = scan_engine_new(cfg, &err)) == NULL) {
		fprintf(stderr, "bench_re: %s\n", err);
		exit(1);
	}
	*secs_r = now() - t0;
	config_unref(&cfg);
	re_engine_stats(eng, st);
	return eng;
}

struct corpus {
	char **data;
	size_t *len;
	size_t n, cap, max;
};

static void
load_dir(const char *dir, struct corpus *c, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat sb;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && depth < 4 && c->n < c->max) {
		if (e->d_name[0] == '.' || str_format(path, sizeof(path), "%s/%s", dir,
		    e->d_name) < 0 || stat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			load_dir(path, c, depth + 1);
			continue;
		}
		if (!S_ISREG(sb.st_mode) || strstr(e->d_name, ".md") != NULL ||
		    strstr(e->d_name, ".tsv") != NULL)
			continue;
		c->data = xgrow(c->data, &c->cap, c->n + 1, sizeof(*c->data));
		c->len = xrealloc(c->len, c->cap * sizeof(*c->len));
		if ((c->data[c->n] = test_read_file(path, &c->len[c->n])) != NULL)
			c->n++;
	}
	closedir(d);
}

static void
bench_scan(struct scan_engine *eng, struct corpus *c)
{
	size_t bytes = 0, hits = 0;
	double t0 = now();

	for (size_t i = 0; i < c->n; i++) {
		struct scan_task *t = scan_task_new(eng, c->data[i], c->len[i]);
		scan_task_process(t);
		for (const struct scan_symbol *s = t->symbols; s != NULL; s = s->next)
			hits += strncmp(s->name, "B_", 2) == 0;
		bytes += c->len[i];
		scan_task_free(&t);
	}
	double dt = now() - t0;
	printf("scan: %zu messages, %.1f MB in %.3f s = %.0f msg/s, %.1f MB/s, "
	    "%zu regexp symbols fired\n", c->n, (double)bytes / 1e6, dt, (double)c->n / dt,
	    (double)bytes / 1e6 / dt, hits);
}

int
main(int argc, char **argv)
{
	unsigned n = 5000;
	struct corpus c = { .max = 100000 };
	const char *dir = getenv("CORPUS_DIR");
	char path[512], cmd[600];
	struct re_engine_stats st;
	double secs;
	int opt;

	while ((opt = getopt(argc, argv, "n:m:")) != -1) {
		if (opt == 'n')
			n = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'm')
			c.max = strtoul(optarg, NULL, 10);
	}
	if (optind < argc)
		dir = argv[optind];
	if (dir == NULL)
		dir = "/work/shared/corpus";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bench_re.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/db", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/rspamd.conf", tmpdir);
	FILE *f = fopen(path, "w");
	char *conf = gen_conf(n);
	fputs(conf, f);
	fclose(f);
	free(conf);

	struct scan_engine *eng = build(path, &secs, &st);
	printf("cold: %u rules, %u regexps (%u hs, %u pcre), %u dbs compiled: "
	    "engine %.3f s (regexp finalize %.3f s)\n", st.rules, st.atoms, st.hs_patterns,
	    st.pcre_patterns, st.dbs_compiled, secs, st.finalize_seconds);
	scan_engine_free(&eng);
	eng = build(path, &secs, &st);
	printf("warm: %u dbs loaded from cache, %u compiled: engine %.3f s "
	    "(regexp finalize %.3f s)\n", st.dbs_loaded, st.dbs_compiled, secs,
	    st.finalize_seconds);
	load_dir(dir, &c, 0);
	bench_scan(eng, &c);
	scan_engine_free(&eng);
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : 1;
}
