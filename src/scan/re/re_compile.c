/*
 * re_compile.c - one Hyperscan database per scan kind, a PCRE2 fallback
 * for the patterns Hyperscan rejects, and a disk cache of the databases.
 *
 * Compiling thousands of patterns takes seconds, far too long for every
 * start and reload, so each kind's database is serialised to
 * <dbdir>/hs_cache/<hash>.hsdb. The hash covers everything that decides
 * the compiled bytes: the Hyperscan version, the CPU platform, the kind and
 * its ordered (pattern, flags, id) list. The file repeats the hash, lists
 * the atoms that fell back to PCRE2 (with the reason, so the log line is
 * the same on a warm start) and ends with a checksum of all its bytes, so
 * a truncated or corrupt file is a cache miss, never a crash. Files are
 * written to a temporary name and renamed, so concurrent starts never see
 * half a file.
 *
 * Rejected patterns are found in two steps: hs_expression_info() checks
 * each pattern on its own (cheap, catches backreferences, lookbehind and
 * friends), then hs_compile_multi() names the failing expression for what
 * only shows up when building the whole database; that one is dropped and
 * the compile retried.
 */
#include "scan/re/re_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>

#include "config/config.h"
#include "core/common.h"
#include "core/xmalloc.h"
#include "log/log.h"

#define CACHE_MAGIC "RSPHSDB1"
#define CACHE_MAX_FILE (512u * 1024u * 1024u)

/* The patterns of one kind being built. */
struct kind_build {
	enum re_kind kind;
	size_t *atoms;        /* atom indexes, in order */
	char **exprs;         /* pattern as given to Hyperscan */
	unsigned *flags;
	unsigned *ids;
	size_t n;
	bool *rejected;       /* parallel to atoms */
	char **reasons;
	uint64_t hash;
};

static bool
kind_is_utf8(enum re_kind k)
{
	return k == RE_KIND_HEADER || k == RE_KIND_MIME_HEADER || k == RE_KIND_MIME ||
	    k == RE_KIND_SA_BODY;
}

static unsigned
hs_flags_for(const struct re_atom *a)
{
	unsigned f = 0;

	if ((a->flags & RE_F_COUNT) == 0)
		f |= HS_FLAG_SINGLEMATCH;
	if (a->flags & RE_F_CASELESS)
		f |= HS_FLAG_CASELESS;
	if (a->flags & RE_F_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (a->flags & RE_F_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	if ((a->flags & RE_F_UTF8) && !(a->flags & RE_F_RAW) && kind_is_utf8(a->kind))
		f |= HS_FLAG_UTF8 | HS_FLAG_UCP;
	return f;
}

static char *
hs_expr_for(const struct re_atom *a)
{
	size_t n = strlen(a->pattern) + 8;
	char *s = xmalloc(n);

	snprintf(s, n, "%s%s", (a->flags & RE_F_EXTENDED) ? "(?x)" : "", a->pattern);
	return s;
}

static void
build_hash(struct kind_build *kb)
{
	XXH64_state_t *st = XXH64_createState();
	hs_platform_info_t plat;
	const char *ver = hs_version();
	uint32_t k = (uint32_t)kb->kind;

	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	XXH64_reset(st, 0x5253504d);
	XXH64_update(st, ver, strlen(ver) + 1);
	XXH64_update(st, &plat, sizeof(plat));
	XXH64_update(st, &k, sizeof(k));
	for (size_t i = 0; i < kb->n; i++) {
		XXH64_update(st, kb->exprs[i], strlen(kb->exprs[i]) + 1);
		XXH64_update(st, &kb->flags[i], sizeof(kb->flags[i]));
		XXH64_update(st, &kb->ids[i], sizeof(kb->ids[i]));
	}
	kb->hash = XXH64_digest(st);
	XXH64_freeState(st);
}

static void
kind_build_init(struct re_module *mod, enum re_kind kind, struct kind_build *kb)
{
	memset(kb, 0, sizeof(*kb));
	kb->kind = kind;
	for (size_t i = 0; i < mod->n_atoms; i++) {
		if (mod->atoms[i].kind == kind)
			kb->n++;
	}
	kb->atoms = xcalloc(kb->n + 1, sizeof(*kb->atoms));
	kb->exprs = xcalloc(kb->n + 1, sizeof(*kb->exprs));
	kb->flags = xcalloc(kb->n + 1, sizeof(*kb->flags));
	kb->ids = xcalloc(kb->n + 1, sizeof(*kb->ids));
	kb->rejected = xcalloc(kb->n + 1, sizeof(*kb->rejected));
	kb->reasons = xcalloc(kb->n + 1, sizeof(*kb->reasons));
	size_t j = 0;
	for (size_t i = 0; i < mod->n_atoms; i++) {
		if (mod->atoms[i].kind != kind)
			continue;
		kb->atoms[j] = i;
		kb->exprs[j] = hs_expr_for(&mod->atoms[i]);
		kb->flags[j] = hs_flags_for(&mod->atoms[i]);
		kb->ids[j] = (unsigned)i;
		j++;
	}
	build_hash(kb);
}

static void
kind_build_free(struct kind_build *kb)
{
	for (size_t i = 0; i < kb->n; i++) {
		free(kb->exprs[i]);
		free(kb->reasons[i]);
	}
	free(kb->atoms);
	free(kb->exprs);
	free(kb->flags);
	free(kb->ids);
	free(kb->rejected);
	free(kb->reasons);
}

static void
reject(struct kind_build *kb, size_t i, const char *reason)
{
	kb->rejected[i] = true;
	free(kb->reasons[i]);
	kb->reasons[i] = xstrdup(reason != NULL ? reason : "rejected by Hyperscan");
}

/* Compiles the non-rejected patterns; NULL when none is left. */
static hs_database_t *
compile_kind(struct kind_build *kb)
{
	const char **e = xcalloc(kb->n + 1, sizeof(*e));
	unsigned *f = xcalloc(kb->n + 1, sizeof(*f));
	unsigned *id = xcalloc(kb->n + 1, sizeof(*id));
	size_t *map = xcalloc(kb->n + 1, sizeof(*map));
	hs_database_t *db = NULL;

	for (;;) {
		size_t m = 0;
		hs_compile_error_t *err = NULL;

		for (size_t i = 0; i < kb->n; i++) {
			if (kb->rejected[i])
				continue;
			e[m] = kb->exprs[i];
			f[m] = kb->flags[i];
			id[m] = kb->ids[i];
			map[m++] = i;
		}
		if (m == 0)
			break;
		if (hs_compile_multi(e, f, id, (unsigned)m, HS_MODE_BLOCK, NULL, &db, &err) ==
		    HS_SUCCESS)
			break;
		db = NULL;
		if (err != NULL && err->expression >= 0 && (size_t)err->expression < m) {
			reject(kb, map[err->expression], err->message);
		} else {
			/* not one pattern's fault (e.g. too large): all go to PCRE2 */
			for (size_t i = 0; i < m; i++)
				reject(kb, map[i], err != NULL ? err->message : NULL);
		}
		hs_free_compile_error(err);
	}
	free(e);
	free(f);
	free(id);
	free(map);
	return db;
}

static void
precheck(struct kind_build *kb)
{
	for (size_t i = 0; i < kb->n; i++) {
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *err = NULL;

		if (hs_expression_info(kb->exprs[i], kb->flags[i], &info, &err) != HS_SUCCESS)
			reject(kb, i, err != NULL ? err->message : NULL);
		free(info);
		hs_free_compile_error(err);
	}
}

static void
cache_path(const struct re_module *mod, uint64_t hash, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%016llx.hsdb", mod->cache_dir, (unsigned long long)hash);
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Serialises the cache file image into a heap buffer. */
static char *
cache_image(const struct kind_build *kb, const hs_database_t *db, size_t *len_r)
{
	char *dbbytes = NULL;
	size_t dblen = 0, len = 8 + 8 + 4 + 8 + 8, off = 0;
	uint32_t nfb = 0;

	if (db != NULL && hs_serialize_database(db, &dbbytes, &dblen) != HS_SUCCESS)
		return NULL;
	for (size_t i = 0; i < kb->n; i++) {
		if (kb->rejected[i]) {
			nfb++;
			len += 8 + strlen(kb->reasons[i]);
		}
	}
	len += dblen;
	char *img = xmalloc(len);
	uint64_t dblen64 = dblen;
#define PUT(p, n) do { memcpy(img + off, (p), (n)); off += (n); } while (0)
	PUT(CACHE_MAGIC, 8);
	PUT(&kb->hash, 8);
	PUT(&nfb, 4);
	for (size_t i = 0; i < kb->n; i++) {
		if (!kb->rejected[i])
			continue;
		uint32_t id = kb->ids[i], rl = (uint32_t)strlen(kb->reasons[i]);
		PUT(&id, 4);
		PUT(&rl, 4);
		PUT(kb->reasons[i], rl);
	}
	PUT(&dblen64, 8);
	if (dblen > 0)
		PUT(dbbytes, dblen);
	uint64_t sum = XXH64(img, off, 0);
	PUT(&sum, 8);
#undef PUT
	free(dbbytes);
	*len_r = off;
	return img;
}

static void
cache_write(const struct re_module *mod, const struct kind_build *kb, const hs_database_t *db)
{
	char path[4096], tmp[4200];
	size_t len;
	char *img;
	int fd;

	if (mod->cache_dir == NULL)
		return;
	img = cache_image(kb, db, &len);
	if (img == NULL)
		return;
	cache_path(mod, kb->hash, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, img, len) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_warn("re", NULL, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
	free(img);
}

static char *
read_file(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > CACHE_MAX_FILE) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size);
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	*len_r = off;
	return buf;
}

/* Applies a cache file's fallback list; -1 when it does not fit `kb`. */
static int
cache_parse_fallbacks(struct kind_build *kb, const char *img, size_t len, size_t *off_r)
{
	size_t off = 20;
	uint32_t nfb;

	memcpy(&nfb, img + 16, 4);
	for (uint32_t f = 0; f < nfb; f++) {
		uint32_t id, rl;
		size_t i;
		if (len - off < 8)
			return -1;
		memcpy(&id, img + off, 4);
		memcpy(&rl, img + off + 4, 4);
		off += 8;
		if (len - off < rl || rl > 4096)
			return -1;
		for (i = 0; i < kb->n && kb->ids[i] != id; i++)
			;
		if (i == kb->n)
			return -1;
		char *reason = xstrndup(img + off, rl);
		reject(kb, i, reason);
		free(reason);
		off += rl;
	}
	*off_r = off;
	return 0;
}

/* 1 loaded (db may be NULL when every pattern fell back), 0 miss, -1 bad file. */
static int
cache_load(struct re_module *mod, struct kind_build *kb, hs_database_t **db_r)
{
	char path[4096];
	size_t len = 0, off;
	uint64_t h, sum, dblen;
	char *img;
	int ret = -1;

	*db_r = NULL;
	if (mod->cache_dir == NULL)
		return 0;
	cache_path(mod, kb->hash, path, sizeof(path));
	img = read_file(path, &len);
	if (img == NULL)
		return access(path, F_OK) == 0 ? -1 : 0;
	if (len < 8 + 8 + 4 + 8 + 8 || memcmp(img, CACHE_MAGIC, 8) != 0)
		goto out;
	memcpy(&sum, img + len - 8, 8);
	memcpy(&h, img + 8, 8);
	if (sum != XXH64(img, len - 8, 0) || h != kb->hash)
		goto out;
	len -= 8;
	if (cache_parse_fallbacks(kb, img, len, &off) < 0 || len - off < 8)
		goto out;
	memcpy(&dblen, img + off, 8);
	off += 8;
	if (dblen != len - off)
		goto out;
	if (dblen > 0 && hs_deserialize_database(img + off, dblen, db_r) != HS_SUCCESS) {
		*db_r = NULL;
		goto out;
	}
	ret = 1;
out:
	if (ret < 0) {
		for (size_t i = 0; i < kb->n; i++)
			kb->rejected[i] = false;
		log_warn("re", NULL, "ignoring unusable cache file %s", path);
	}
	free(img);
	return ret;
}

static int
compile_pcre(struct re_atom *a, char **error_r)
{
	uint32_t opts = 0;
	int ec;
	PCRE2_SIZE eoff;
	pcre2_code *code;

	if (a->flags & RE_F_CASELESS)
		opts |= PCRE2_CASELESS;
	if (a->flags & RE_F_MULTILINE)
		opts |= PCRE2_MULTILINE;
	if (a->flags & RE_F_DOTALL)
		opts |= PCRE2_DOTALL;
	if (a->flags & RE_F_EXTENDED)
		opts |= PCRE2_EXTENDED;
	if ((a->flags & RE_F_UTF8) && !(a->flags & RE_F_RAW))
		opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
	code = pcre2_compile((PCRE2_SPTR)a->pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eoff,
	    NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		*error_r = xasprintf("regexp rule %s: /%s/ does not compile at offset %zu: %s",
		    a->rule, a->pattern, (size_t)eoff, (const char *)msg);
		return -1;
	}
	/* JIT is an optimisation: without it (no JIT support) matching still works */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	a->code = code;
	a->pcre = true;
	return 0;
}

static int
finish_kind(struct re_module *mod, struct kind_build *kb, hs_database_t *db, char **error_r)
{
	struct re_kind_db *kd = &mod->kinds[kb->kind];

	kd->db = (struct hs_database *)db;
	kd->used = true;
	kd->pcre_atoms = xcalloc(kb->n + 1, sizeof(*kd->pcre_atoms));
	for (size_t i = 0; i < kb->n; i++) {
		struct re_atom *a = &mod->atoms[kb->atoms[i]];
		if (!kb->rejected[i]) {
			mod->stats.hs_patterns++;
			continue;
		}
		log_info("re", NULL, "rule %s: /%s/ falls back to PCRE2: %s", a->rule, a->pattern,
		    kb->reasons[i]);
		if (compile_pcre(a, error_r) < 0)
			return -1;
		kd->pcre_atoms[kd->n_pcre++] = kb->atoms[i];
		mod->stats.pcre_patterns++;
	}
	return 0;
}

static int
build_kind(struct re_module *mod, enum re_kind kind, char **error_r)
{
	struct kind_build kb;
	hs_database_t *db = NULL;
	int r;

	kind_build_init(mod, kind, &kb);
	if (kb.n == 0) {
		kind_build_free(&kb);
		return 0;
	}
	r = cache_load(mod, &kb, &db);
	if (r > 0) {
		mod->stats.dbs_loaded++;
	} else {
		if (r < 0)
			mod->stats.dbs_cache_bad++;
		precheck(&kb);
		db = compile_kind(&kb);
		mod->stats.dbs_compiled++;
		cache_write(mod, &kb, db);
	}
	r = finish_kind(mod, &kb, db, error_r);
	kind_build_free(&kb);
	return r;
}

static void
setup_cache_dir(struct re_module *mod)
{
	const struct config *cfg = scan_engine_config(mod->eng);
	char path[4096];

	free(mod->cache_dir);
	mod->cache_dir = NULL;
	if (cfg == NULL || cfg->dbdir == NULL || cfg->dbdir[0] == '\0')
		return;
	if (snprintf(path, sizeof(path), "%s/hs_cache", cfg->dbdir) >= (int)sizeof(path))
		return;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		log_info("re", NULL, "no Hyperscan cache: cannot create %s: %s", path,
		    strerror(errno));
		return;
	}
	mod->cache_dir = xstrdup(path);
}

int
re_compile_all(struct re_module *mod, char **error_r)
{
	if (mod->cache_dir == NULL)
		setup_cache_dir(mod);
	for (int k = 0; k < RE_KIND_COUNT; k++) {
		if (build_kind(mod, (enum re_kind)k, error_r) < 0)
			return -1;
	}
	return 0;
}

void
re_compile_free(struct re_module *mod)
{
	for (int k = 0; k < RE_KIND_COUNT; k++) {
		hs_free_database((hs_database_t *)mod->kinds[k].db);
		free(mod->kinds[k].pcre_atoms);
		mod->kinds[k].db = NULL;
		mod->kinds[k].pcre_atoms = NULL;
	}
	for (size_t i = 0; i < mod->n_atoms; i++)
		pcre2_code_free(mod->atoms[i].code);
	if (mod->scratch != NULL && mod->scratch_pid == getpid())
		hs_free_scratch((hs_scratch_t *)mod->scratch);
	mod->scratch = NULL;
	pcre2_match_data_free(mod->match_data);
	pcre2_match_context_free(mod->match_ctx);
	mod->match_data = NULL;
	mod->match_ctx = NULL;
	free(mod->cache_dir);
	mod->cache_dir = NULL;
}
