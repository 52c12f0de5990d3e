/*
 * test_pwhash.c - rspamadm pw hashes: the published vectors for
 * "testpass" (spec/config.md section 5.1) verify, wrong passwords and
 * malformed strings do not, freshly made hashes round-trip, and the base32
 * flavour is the LSB-first one.
 */
#include "crypto/base32.h"
#include "crypto/pwhash.h"
#include "test.h"

#include <string.h>

static const char vec_catena[] =
    "$2$g3xmdf4buod4ci76t9exyoyaa4hbkten$7jg6f98jbfq83o8mtewoyzuy7rw8stwfwtsdjuqkn8c3mc8asszy";
static const char vec_pbkdf2[] =
    "$1$ogys5m4qaee4y4xpd1pwuodp44iijbig$jzczqsi1ssmegj56hro1c7z8t3ju7fxpw1debdqe8xwgsmjpjzcy";

static void
test_base32(void)
{
	uint8_t in[256], out[256];
	char txt[512];

	test_begin("base32 round trip, LSB first");
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len < 70; len++) {
		int n = base32_encode(in, len, txt, sizeof(txt));

		test_assert(n == (int)BASE32_ENCODED_LEN(len));
		test_assert(base32_decode(txt, (size_t)n, out, sizeof(out)) == (int)len);
		test_assert(memcmp(in, out, len) == 0);
	}
	/* 0x01 -> low 5 bits 1 ('b'), then 0 ('y'). */
	in[0] = 1;
	test_assert(base32_encode(in, 1, txt, sizeof(txt)) == 2 && strcmp(txt, "by") == 0);
	test_assert(base32_encode(in, 20, txt, 32) == -1);
	test_assert(base32_decode("y0", 2, out, sizeof(out)) == -1);
	test_assert(base32_decode("ybndrfg8", 8, out, 2) == -1);
	test_end();
}

static void
test_vectors(void)
{
	test_begin("published vectors verify");
	test_assert(pwhash_verify(vec_catena, "testpass", 8) == 1);
	test_assert(pwhash_verify(vec_pbkdf2, "testpass", 8) == 1);
	test_end();

	test_begin("wrong passwords fail");
	test_assert(pwhash_verify(vec_catena, "testpasS", 8) == 0);
	test_assert(pwhash_verify(vec_pbkdf2, "testpas", 7) == 0);
	test_assert(pwhash_verify(vec_catena, "", 0) == 0);
	test_assert(pwhash_verify(vec_pbkdf2, "", 0) == 0);
	test_end();
}

static void
test_malformed(void)
{
	test_begin("malformed hashes are errors");
	test_assert(pwhash_verify("testpass", "testpass", 8) == -1);
	test_assert(pwhash_verify("$3$abc$def", "x", 1) == -1);
	test_assert(pwhash_verify("$1$ogys5m4qaee4y4xpd1pwuodp44iijbig", "x", 1) == -1);
	test_assert(pwhash_verify("$1$$jzczqsi1ssmegj56hro1c7z8t3ju7fxpw1debdqe8xwgsmjpjzcy",
	    "x", 1) == -1);
	test_assert(pwhash_verify("$1$ogys5m4qaee4y4xpd1pwuodp44iijbig$jzczq", "x", 1) == -1);
	test_assert(pwhash_verify("$1$ogys5m4qaee4y4xpd1pwuodp44iijbig$0zczqsi1ssmegj56hro1c7z8t3ju7fxpw1debdqe8xwgsmjpjzcy",
	    "x", 1) == -1);
	test_end();

	test_begin("hash shape detection");
	test_assert(pwhash_is_hash(vec_catena));
	test_assert(pwhash_is_hash("$12$x"));
	test_assert(!pwhash_is_hash("$$x"));
	test_assert(!pwhash_is_hash("$1x"));
	test_assert(!pwhash_is_hash("q1"));
	test_assert(!pwhash_is_hash(NULL));
	test_end();
}

static void
test_round_trip(void)
{
	static const char long_pw[] =
	    "a password that is much longer than the sixty-four bytes of a BLAKE2b key, "
	    "so it is hashed first";
	char a[PWHASH_ENCODED_MAX], b[PWHASH_ENCODED_MAX];
	enum pwhash_type t;

	test_begin("type names");
	test_assert(pwhash_type_parse("catena", &t) == 0 && t == PWHASH_CATENA);
	test_assert(pwhash_type_parse("pbkdf2", &t) == 0 && t == PWHASH_PBKDF2);
	test_assert(pwhash_type_parse("scrypt", &t) == -1);
	test_end();

	test_begin("made hashes round-trip, salts differ");
	for (int type = PWHASH_PBKDF2; type <= PWHASH_CATENA; type++) {
		test_assert(pwhash_make((enum pwhash_type)type, "s3cret", 6, a, sizeof(a)) == 0);
		test_assert(pwhash_make((enum pwhash_type)type, "s3cret", 6, b, sizeof(b)) == 0);
		test_assert(strlen(a) == 3 + 32 + 1 + 52 && a[1] == '0' + type);
		test_assert(strcmp(a, b) != 0);
		test_assert(pwhash_verify(a, "s3cret", 6) == 1);
		test_assert(pwhash_verify(b, "s3cret", 6) == 1);
		test_assert(pwhash_verify(a, "s3cres", 6) == 0);
		test_assert(pwhash_make((enum pwhash_type)type, long_pw, sizeof(long_pw) - 1,
		    a, sizeof(a)) == 0);
		test_assert(pwhash_verify(a, long_pw, sizeof(long_pw) - 1) == 1);
		test_assert(pwhash_verify(a, long_pw, sizeof(long_pw) - 2) == 0);
		test_assert(pwhash_make((enum pwhash_type)type, "", 0, a, sizeof(a)) == 0);
		test_assert(pwhash_verify(a, "", 0) == 1);
		test_assert(pwhash_verify(a, "x", 1) == 0);
	}
	test_assert(pwhash_make(PWHASH_CATENA, "x", 1, a, 20) == -1);
	test_end();
}

int
main(void)
{
	test_base32();
	test_vectors();
	test_malformed();
	test_round_trip();
	return test_exit();
}
