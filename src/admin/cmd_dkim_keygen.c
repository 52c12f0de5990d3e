/*
 * cmd_dkim_keygen.c - `rspamadm dkim_keygen`: makes a DKIM key pair with
 * OpenSSL and prints the DNS TXT record for it.
 *
 * The record is written the way Rspamd's keygen writes it, as a zone file
 * line whose p= value is split into quoted strings of at most 255 bytes
 * (the limit of one DNS character-string), each on its own tab-indented
 * line. With -k the private key goes to that file (PKCS#8 PEM, mode
 * 0600, created exclusively unless --force) and only the record is
 * printed; without -k the key is printed first.
 */
#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/dkim.h"
#include "core/common.h"

struct keygen_opts {
	const char *domain, *selector, *keyfile, *output;
	unsigned long bits;
	bool ed25519, force;
};

static EVP_PKEY *
keygen_make(const struct keygen_opts *o)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(o->ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL);
	EVP_PKEY *pk = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (!o->ed25519 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)o->bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &pk) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* PKCS#8 PEM of the private key (heap, NUL-terminated) */
static char *
keygen_pem(EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(bio, &data);
		out = malloc((size_t)n + 1);
		if (out != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

static int
keygen_write(const struct keygen_opts *o, const char *pem)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (o->force ? O_TRUNC : O_EXCL);
	int fd = open(o->keyfile, flags, 0600);
	size_t len = strlen(pem), off = 0;

	if (fd < 0) {
		fprintf(stderr, "dkim_keygen: %s: %s%s\n", o->keyfile, strerror(errno),
		    errno == EEXIST ? " (use --force to overwrite)" : "");
		return -1;
	}
	/* an existing file keeps its mode on O_TRUNC: make it private */
	if (fchmod(fd, 0600) < 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, pem + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "dkim_keygen: %s: %s\n", o->keyfile, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
keygen_print_record(const struct keygen_opts *o, const char *p64)
{
	const char *k = o->ed25519 ? "ed25519" : "rsa";
	size_t len = strlen(p64);

	if (strcmp(o->output, "plain") == 0) {
		printf("v=DKIM1; k=%s; p=%s\n", k, p64);
		return;
	}
	/* "p=" plus the first 253 bytes fill the first 255-byte string */
	printf("%s._domainkey IN TXT ( \"v=DKIM1; k=%s; \"\n", o->selector, k);
	printf("\t\"p=%.*s\"", (int)MIN(len, 253), p64);
	for (size_t off = 253; off < len; off += 255)
		printf("\n\t\"%.*s\"", (int)MIN(255, len - off), p64 + off);
	printf(" ) ;\n");
}

static int
keygen_parse(int argc, char **argv, struct keygen_opts *o)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "bits", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 't' },
		{ "privkey", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 0; /* GNU: full reset, the globals were parsed already */
	while ((c = getopt_long(argc, argv, "d:s:b:t:k:o:f", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->domain = optarg; break;
		case 's': o->selector = optarg; break;
		case 'k': o->keyfile = optarg; break;
		case 'o': o->output = optarg; break;
		case 'f': o->force = true; break;
		case 'b':
			o->bits = strtoul(optarg, &end, 10);
			if (*end != '\0' || o->bits < 1024 || o->bits > 8192)
				return fprintf(stderr, "dkim_keygen: -b wants 1024..8192\n"), -1;
			break;
		case 't':
			if (strcmp(optarg, "ed25519") != 0 && strcmp(optarg, "rsa") != 0)
				return fprintf(stderr, "dkim_keygen: -t rsa|ed25519\n"), -1;
			o->ed25519 = strcmp(optarg, "ed25519") == 0;
			break;
		default:
			return -1;
		}
	}
	if (strcmp(o->output, "dns") != 0 && strcmp(o->output, "plain") != 0)
		return fprintf(stderr, "dkim_keygen: -o dns|plain\n"), -1;
	return 0;
}

int
admin_cmd_dkim_keygen(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct keygen_opts o = { .selector = "dkim", .output = "dns", .bits = 2048 };
	struct dkim_privkey key = { 0 };
	char *pem = NULL, *p64 = NULL;
	int status = 1;

	(void)ctx;
	if (keygen_parse(argc, argv, &o) < 0 || o.domain == NULL) {
		fprintf(stderr, "usage: rspamadm dkim_keygen -d DOMAIN -s SELECTOR [-b BITS] "
		    "[-t rsa|ed25519] [-k KEYFILE [--force]] [-o dns|plain]\n");
		return 1;
	}
	key.type = o.ed25519 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
	if ((key.pkey = keygen_make(&o)) == NULL || (pem = keygen_pem(key.pkey)) == NULL ||
	    (p64 = dkim_privkey_public_b64(&key)) == NULL) {
		fprintf(stderr, "dkim_keygen: key generation failed\n");
		goto out;
	}
	if (o.keyfile != NULL) {
		if (keygen_write(&o, pem) < 0)
			goto out;
	} else
		fputs(pem, stdout);
	keygen_print_record(&o, p64);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	if (pem != NULL)
		OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	free(p64);
	EVP_PKEY_free(key.pkey);
	return status;
}
