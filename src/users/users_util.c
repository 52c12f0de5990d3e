/*
 * users_util.c - the pure helpers of the user database: address and domain
 * syntax, conversion of configured SQL to parameterized form, size
 * suffixes, and crypt(3) password hashing and checking through libxcrypt.
 *
 * The query conversion exists because tutorials for Postfix/Dovecot show
 * queries like `... WHERE email='%s'`, which those programs fill by string
 * substitution. We never paste a value into SQL: each placeholder becomes
 * a bind parameter, and a placeholder embedded in a longer literal is
 * refused rather than guessed at.
 */
#include "users/users_internal.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"

int
users_domain_check(const char *domain, const char **error_r)
{
	size_t len = strlen(domain), label = 0;

	if (len == 0 || len > 253) {
		*error_r = "bad domain length";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = domain[i];

		if (c == '.') {
			if (label == 0 || domain[i - 1] == '-') {
				*error_r = "empty or bad domain label";
				return -1;
			}
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') ||
		    (c == '-' && label == 0) || ++label > 63) {
			*error_r = "bad character or label in domain";
			return -1;
		}
	}
	if (label == 0) {
		*error_r = "domain ends with a dot";
		return -1;
	}
	return 0;
}

int
users_address_check(const char *address, char **norm_r, const char **error_r)
{
	const char *at = strchr(address, '@');
	size_t len = strlen(address);

	if (len > USERS_MAX_ADDRESS) {
		*error_r = "address too long";
		return -1;
	}
	if (at == NULL || strchr(at + 1, '@') != NULL) {
		*error_r = "address needs exactly one '@'";
		return -1;
	}
	if (at == address) {
		*error_r = "empty local part";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)address[i];

		if (c <= ' ' || c == 0x7f) {
			*error_r = "space or control character in address";
			return -1;
		}
	}
	if (users_domain_check(at + 1, error_r) < 0)
		return -1;
	if (norm_r != NULL) {
		char *n = xstrdup(address);

		for (char *p = n + (at - address); *p != '\0'; p++)
			*p = ascii_tolower(*p);
		*norm_r = n;
	}
	return 0;
}

/* The bind parameter for placeholder letter c, or 0. */
static int
placeholder_index(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'u':
		return 2;
	case 'd':
		return 3;
	default:
		return 0;
	}
}

static void
emit_param(struct buf *out, enum users_sql_dialect dialect, int idx)
{
	buf_printf(out, "%c%d", dialect == USERS_SQL_PGSQL ? '$' : '?', idx);
}

/* A '...' literal at *p: either exactly one placeholder (a parameter) or
 * text copied as is. Advances *p past it; -1 on an unterminated literal or
 * a placeholder inside longer text. */
static int
convert_literal(const char **p, struct buf *out, enum users_sql_dialect d,
    const char **error_r)
{
	const char *s = *p, *end = s + 1;

	for (;;) {
		end = strchr(end, '\'');
		if (end == NULL) {
			*error_r = "unterminated string literal in query";
			return -1;
		}
		if (end[1] != '\'')
			break;
		end += 2;
	}
	if (end - s == 3 && s[1] == '%' && placeholder_index(s[2]) > 0) {
		emit_param(out, d, placeholder_index(s[2]));
	} else {
		for (const char *q = s + 1; q < end; q++) {
			if (q[0] == '%' && placeholder_index(q[1]) > 0) {
				*error_r = "placeholder inside a longer string "
				    "literal; use the bare placeholder";
				return -1;
			}
		}
		buf_append(out, s, (size_t)(end - s + 1));
	}
	*p = end + 1;
	return 0;
}

char *
users_query_convert(const char *query, enum users_sql_dialect dialect,
    const char **error_r)
{
	struct buf out;
	const char *p = query;

	buf_init(&out, 0);
	while (*p != '\0') {
		if (*p == '\'') {
			if (convert_literal(&p, &out, dialect, error_r) < 0)
				goto fail;
		} else if (*p == '%') {
			if (p[1] == '%') {
				buf_putc(&out, '%');
			} else if (placeholder_index(p[1]) > 0) {
				emit_param(&out, dialect, placeholder_index(p[1]));
			} else {
				*error_r = "unknown %-placeholder in query "
				    "(%s, %u, %d and %% are known)";
				goto fail;
			}
			p += 2;
		} else if (*p == '$' && p[1] >= '1' && p[1] <= '3' &&
		    !(p[2] >= '0' && p[2] <= '9')) {
			emit_param(&out, dialect, p[1] - '0');
			p += 2;
		} else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			*error_r = "only $1, $2 and $3 exist in queries";
			goto fail;
		} else {
			buf_putc(&out, *p++);
		}
	}
	if (buf_putc(&out, '\0') < 0) {
		*error_r = "query too long";
		goto fail;
	}
	return buf_steal(&out, NULL);
fail:
	buf_deinit(&out);
	return NULL;
}

int
users_query_max_param(const char *sql)
{
	int max = 0;

	for (const char *p = sql; *p != '\0'; p++) {
		if ((*p == '$' || *p == '?') && p[1] >= '1' && p[1] <= '9' &&
		    p[1] - '0' > max)
			max = p[1] - '0';
	}
	return max;
}

int
users_parse_size(const char *s, uint64_t *bytes_r)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (ascii_tolower(*end)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end != '\0') {
		end++;
		if (ascii_tolower(*end) == 'b')
			end++;
	}
	if (*end != '\0' || (shift > 0 && v > (UINT64_MAX >> shift)))
		return -1;
	*bytes_r = (uint64_t)v << shift;
	return 0;
}

/* The crypt(3) string inside a stored password: a Dovecot "{SCHEME}"
 * prefix naming a crypt scheme is dropped; NULL for schemes we refuse
 * (plain text, MD5, DES, unknown). */
static const char *
password_crypt_part(const char *stored)
{
	static const char *const prefixes[] = {
		"{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}", "{CRYPT}",
		"{YESCRYPT}",
	};
	static const char *const schemes[] = {
		"$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$", "$2a$",
	};
	const char *h = stored;

	if (h[0] == '{') {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
			if (str_has_prefix_case(str_from_cstr(h), prefixes[i])) {
				h += strlen(prefixes[i]);
				break;
			}
		}
		if (i == ARRAY_SIZE(prefixes))
			return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strncmp(h, schemes[i], strlen(schemes[i])) == 0)
			return h;
	return NULL;
}

bool
users_hash_supported(const char *hash)
{
	return hash != NULL && password_crypt_part(hash) != NULL;
}

static bool
const_time_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	volatile unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
users_verify_password(const char *plain, const char *hash)
{
	struct crypt_data *cd;
	const char *setting = hash != NULL ? password_crypt_part(hash) : NULL;
	const char *out;
	int ok;

	if (setting == NULL || plain == NULL || plain[0] == '\0')
		return 0;
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(plain, setting, cd, (int)sizeof(*cd));
	ok = out != NULL && out[0] != '*' && const_time_eq(out, setting);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok ? 1 : 0;
}

char *
users_hash_password(const char *plain, const char *scheme,
    const char **error_r)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *prefix = "$y$";
	struct crypt_data *cd;
	const char *out;
	char *res = NULL;

	if (scheme != NULL && strcmp(scheme, "sha512") == 0)
		prefix = "$6$";
	else if (scheme != NULL && strcmp(scheme, "bcrypt") == 0)
		prefix = "$2b$";
	else if (scheme != NULL && strcmp(scheme, "yescrypt") != 0) {
		*error_r = "unknown password scheme (yescrypt, sha512, bcrypt)";
		return NULL;
	}
	if (plain == NULL || plain[0] == '\0') {
		*error_r = "empty password";
		return NULL;
	}
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return NULL;
	}
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(plain, salt, cd, (int)sizeof(*cd));
	if (out == NULL || out[0] == '*')
		*error_r = "crypt failed";
	else
		res = xstrdup(out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return res;
}

void
users_rows_free(struct users_rows *rows)
{
	for (size_t i = 0; i < rows->nrows * rows->ncols; i++)
		free(rows->cells[i]);
	free(rows->cells);
	rows->cells = NULL;
	rows->nrows = rows->ncols = 0;
}

void
users_rows_copy(struct users_rows *dst, const struct users_rows *src)
{
	size_t n = src->nrows * src->ncols;

	dst->nrows = src->nrows;
	dst->ncols = src->ncols;
	dst->cells = n > 0 ? xcalloc(n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < n; i++)
		dst->cells[i] = src->cells[i] != NULL ?
		    xstrdup(src->cells[i]) : NULL;
}
