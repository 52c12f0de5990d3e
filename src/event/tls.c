/*
 * tls.c - OpenSSL contexts for conn_tls_accept()/conn_tls_connect(), and
 * the self-signed certificate a fresh installation starts with.
 *
 * A context is built once per listener or relay profile and shared by
 * every connection (and, made before fork(), by every worker). Server
 * contexts keep no session cache and issue no tickets: mail clients gain
 * little from resumption, and a cache in each worker process would only
 * cost memory and key-management questions. Renegotiation and compression
 * are off; the protocol range comes from Postfix-style lists so that a
 * Postfix admin's smtpd_tls_protocols value can be reused as it is.
 *
 * Every failure empties OpenSSL's (per-thread) error queue after turning
 * its newest entry into the caller's error text, so that a later
 * SSL_get_error() on some connection never sees our leftovers.
 *
 * The self-signed certificate is written with the key first, each file to
 * a temporary name and renamed into place; the certificate's existence is
 * what marks the pair complete, so an interrupted run is simply redone.
 */
#include "event/tls.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"

#define TLS_SELFSIGNED_DAYS 3650
#define TLS_SELFSIGNED_BITS 2048
#define TLS_CN_MAX 64 /* X.509 upper bound for a commonName */

struct tls_proto {
	const char *name;
	int version;     /* 0: not available in this OpenSSL at all */
	bool usable;     /* may be enabled */
};

/* Ordered oldest first; only TLSv1 and later can be switched on. */
static const struct tls_proto tls_protos[] = {
	{ "SSLv2", 0, false },
	{ "SSLv3", SSL3_VERSION, false },
	{ "TLSv1", TLS1_VERSION, true },
	{ "TLSv1.1", TLS1_1_VERSION, true },
	{ "TLSv1.2", TLS1_2_VERSION, true },
	{ "TLSv1.3", TLS1_3_VERSION, true },
};
#define TLS_PROTO_FIRST_USABLE 2
#define TLS_PROTO_N ((int)ARRAY_SIZE(tls_protos))

/* OpenSSL's newest error as text, then a clean queue. Heap string. */
static char *
tls_error_text(const char *what, const char *arg)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		str_lcpy(reason, errno != 0 ? strerror(errno) : "unknown error",
		    sizeof(reason));
	ERR_clear_error();
	if (arg != NULL)
		return xasprintf("%s %s: %s", what, arg, reason);
	return xasprintf("%s: %s", what, reason);
}

static SSL_CTX *
tls_ctx_fail(SSL_CTX *ctx, const char *what, const char *arg, char **error_r)
{
	*error_r = tls_error_text(what, arg);
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tls_proto_lookup(const char *name, size_t len)
{
	int i;

	for (i = 0; i < TLS_PROTO_N; i++) {
		if (strlen(tls_protos[i].name) == len &&
		    strncasecmp(tls_protos[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

/* Applies one list element to the include/exclude sets and the bounds. */
static int
tls_proto_token(const char *tok, size_t len, unsigned *incl, bool *any_incl,
    unsigned *excl, int *lo, int *hi)
{
	enum { ADD, DROP, MIN_, MAX_ } op = ADD;
	int i;

	if (len > 0 && tok[0] == '!') {
		op = DROP;
		tok++, len--;
	} else if (len > 1 && (tok[0] == '>' || tok[0] == '<') && tok[1] == '=') {
		op = tok[0] == '>' ? MIN_ : MAX_;
		tok += 2, len -= 2;
	}
	if ((i = tls_proto_lookup(tok, len)) < 0)
		return -1;
	switch (op) {
	case ADD:
		if (!tls_protos[i].usable)
			return -1;
		*incl |= 1u << i;
		*any_incl = true;
		break;
	case DROP:
		*excl |= 1u << i;
		break;
	case MIN_:
		*lo = MAX(*lo, i);
		break;
	case MAX_:
		*hi = MIN(*hi, i);
		break;
	}
	return 0;
}

/*
 * Postfix's protocol list -> an OpenSSL version range (max 0 = no upper
 * limit, so a future version is not locked out). Elements are separated by
 * commas, colons or blanks: "NAME" enables (then only the named ones
 * count), "!NAME" disables, ">=NAME" and "<=NAME" bound. OpenSSL only
 * takes a range, so a list leaving a hole (TLSv1.1 and TLSv1.3 but not
 * TLSv1.2) is rejected rather than silently widened.
 */
static int
tls_protocols_parse(const char *list, int *min_r, int *max_r, char **error_r)
{
	unsigned incl = 0, excl = 0, on = 0;
	bool any_incl = false, listed = false;
	int lo = TLS_PROTO_FIRST_USABLE, hi = TLS_PROTO_N - 1, i, first = -1, last = -1;
	const char *p = list, *tok;
	size_t len;

	*min_r = TLS1_2_VERSION;
	*max_r = 0;
	if (list == NULL)
		return 0;
	for (;;) {
		p += strspn(p, ", :\t\r\n");
		if (*p == '\0')
			break;
		tok = p;
		len = strcspn(p, ", :\t\r\n");
		p += len;
		if (tls_proto_token(tok, len, &incl, &any_incl, &excl, &lo, &hi) < 0) {
			*error_r = xasprintf("invalid TLS protocol \"%.*s\" in \"%s\"",
			    (int)len, tok, list);
			return -1;
		}
		listed = true;
	}
	if (!listed)
		return 0; /* blank: the default */
	for (i = TLS_PROTO_FIRST_USABLE; i < TLS_PROTO_N; i++) {
		if ((any_incl && !(incl & (1u << i))) || (excl & (1u << i)) ||
		    i < lo || i > hi)
			continue;
		on |= 1u << i;
		if (first < 0)
			first = i;
		last = i;
	}
	if (first < 0) {
		*error_r = xasprintf("TLS protocol list \"%s\" leaves no protocol", list);
		return -1;
	}
	for (i = first; i <= last; i++) {
		if (!(on & (1u << i))) {
			*error_r = xasprintf("TLS protocol list \"%s\" leaves a gap at %s "
			    "(only a contiguous range is supported)", list, tls_protos[i].name);
			return -1;
		}
	}
	*min_r = tls_protos[first].version;
	*max_r = last == TLS_PROTO_N - 1 ? 0 : tls_protos[last].version;
	return 0;
}

/* Settings both sides share: protocol range, no compression, no
 * renegotiation (a CPU-exhaustion lever and a source of WANT_READ on
 * writes), optional TLS <= 1.2 cipher list. */
static int
tls_ctx_common(SSL_CTX *ctx, const char *protocols, const char *ciphers,
    char **error_r)
{
	int min, max;

	if (tls_protocols_parse(protocols, &min, &max, error_r) < 0)
		return -1;
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max) != 1) {
		*error_r = tls_error_text("setting the TLS protocol range", NULL);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (ciphers != NULL && *ciphers != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		*error_r = tls_error_text("invalid TLS cipher list", ciphers);
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const struct tls_server_opts *o, char **error_r)
{
	SSL_CTX *ctx;

	*error_r = NULL;
	if (o->cert_file == NULL || o->key_file == NULL) {
		*error_r = xstrdup("TLS needs both a certificate and a key file");
		return NULL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return tls_ctx_fail(NULL, "creating a TLS server context", NULL, error_r);
	if (tls_ctx_common(ctx, o->protocols, o->ciphers, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1)
		return tls_ctx_fail(ctx, "loading TLS certificate", o->cert_file, error_r);
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
		return tls_ctx_fail(ctx, "loading TLS key", o->key_file, error_r);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_ctx_fail(ctx, "TLS key does not match certificate",
		    o->cert_file, error_r);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	(void)SSL_CTX_set_dh_auto(ctx, 1);
	return ctx;
}

SSL_CTX *
tls_client_ctx_new(bool verify, const char *ca_file, const char *protocols,
    char **error_r)
{
	SSL_CTX *ctx;

	*error_r = NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return tls_ctx_fail(NULL, "creating a TLS client context", NULL, error_r);
	if (tls_ctx_common(ctx, protocols, NULL, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Trust anchors are loaded even without `verify`, so that the
	 * verification result is still there for logging. */
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
			return tls_ctx_fail(ctx, "loading TLS CA file", ca_file, error_r);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1 && verify) {
		return tls_ctx_fail(ctx, "loading the system's TLS CA store", NULL, error_r);
	}
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

void
tls_ctx_free(SSL_CTX **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}

static bool
tls_hostname_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > TLS_CN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	}
	return true;
}

static int
tls_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int r;

	if (ext == NULL)
		return -1;
	r = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

/* subjectAltName built from the parsed name (no config-string parsing of
 * the hostname, whatever it contains). */
static int
tls_add_san(X509 *x, const char *hostname)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int r = -1;

	if (gens == NULL || gn == NULL || ia5 == NULL ||
	    ASN1_STRING_set(ia5, hostname, -1) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gn);
		sk_GENERAL_NAME_free(gens);
		return -1;
	}
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	if (sk_GENERAL_NAME_push(gens, gn) > 0) {
		gn = NULL;
		if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
			r = 0;
	}
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return r;
}

static int
tls_set_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int r;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	raw[0] &= 0x7f; /* positive */
	if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) == NULL)
		return -1;
	r = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL ? 0 : -1;
	BN_free(bn);
	return r;
}

/* The certificate proper: v3, random serial, CN = issuer = hostname. */
static X509 *
tls_selfsigned_make(EVP_PKEY *key, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 || tls_set_serial(x) < 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (tls_add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_add_ext(x, &v3, NID_subject_key_identifier, "hash") < 0 ||
	    tls_add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    tls_add_san(x, hostname) < 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Writes a key (key != NULL) or a certificate as PEM to `path` via a
 * temporary file in the same directory, fsynced, then renamed. */
static int
tls_pem_write_atomic(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
    char **error_r)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = NULL;
	int fd, ok;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd >= 0 && (f = fdopen(fd, "w")) == NULL)
		close(fd);
	if (f == NULL) {
		*error_r = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	errno = 0;
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_X509(f, cert);
	ok = ok == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		*error_r = xasprintf("cannot write %s: %s", path,
		    errno != 0 ? strerror(errno) : "OpenSSL PEM error");
		ERR_clear_error();
		(void)unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int
tls_selfsigned_ensure(const char *cert_path, const char *key_path,
    const char *hostname, char **error_r)
{
	EVP_PKEY *key;
	X509 *cert;
	int r;

	*error_r = NULL;
	if (access(cert_path, F_OK) == 0)
		return 0;
	if (errno != ENOENT) {
		*error_r = xasprintf("cannot check %s: %s", cert_path, strerror(errno));
		return -1;
	}
	if (!tls_hostname_ok(hostname)) {
		*error_r = xasprintf("\"%s\" is not a usable certificate host name", hostname);
		return -1;
	}
	ERR_clear_error();
	if ((key = EVP_RSA_gen(TLS_SELFSIGNED_BITS)) == NULL) {
		*error_r = tls_error_text("generating an RSA key", NULL);
		return -1;
	}
	if ((cert = tls_selfsigned_make(key, hostname)) == NULL) {
		*error_r = tls_error_text("building a self-signed certificate for", hostname);
		EVP_PKEY_free(key);
		return -1;
	}
	/* Key first: a certificate on disk means the pair is complete. */
	r = tls_pem_write_atomic(key_path, 0600, key, NULL, error_r);
	if (r == 0)
		r = tls_pem_write_atomic(cert_path, 0644, NULL, cert, error_r);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
