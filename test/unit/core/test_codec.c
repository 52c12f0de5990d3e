/* Unit tests for core/codec: base64 and quoted-printable. */
#include "core/codec.h"
#include "test.h"

#include <string.h>

static size_t
b64(const char *in, char *out, bool *damaged)
{
	size_t n = base64_decode(in, strlen(in), (unsigned char *)out, damaged);

	out[n] = '\0';
	return n;
}

static void
test_base64(void)
{
	char out[256], enc[256];
	bool d;

	test_begin("base64 decode clean, wrapped, unpadded");
	test_assert(b64("aGVsbG8gd29ybGQ=", out, &d) == 11 && !d);
	test_assert(strcmp(out, "hello world") == 0);
	test_assert(b64("aGVs\r\nbG8g\nd29y bGQ=", out, &d) == 11 && !d);
	test_assert(strcmp(out, "hello world") == 0);
	test_assert(b64("aGVsbG8gd29ybGQ", out, &d) == 11 && !d);
	test_assert(b64("YQ", out, &d) == 1 && out[0] == 'a' && !d);
	test_assert(b64("", out, &d) == 0 && !d);
	test_end();

	test_begin("base64 decode damaged");
	test_assert(b64("aGVs*bG8=", out, &d) == 5 && d);
	test_assert(strcmp(out, "hello") == 0);
	test_assert(b64("YQ==YQ==", out, &d) == 2 && d);
	test_assert(b64("YWJjZ", out, &d) == 3 && d);
	test_assert(b64("\xff\xfe", out, &d) == 0 && d);
	test_end();

	test_begin("base64 encode round trip");
	for (size_t n = 0; n < 40; n++) {
		unsigned char src[40];
		size_t el, dl;

		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)(i * 37 + n);
		el = base64_encode(src, n, enc);
		test_assert(el == BASE64_ENCODED_LEN(n));
		dl = base64_decode(enc, el, (unsigned char *)out, &d);
		test_assert(dl == n && memcmp(out, src, n) == 0 && !d);
		test_assert(dl <= BASE64_DECODED_MAX(el));
	}
	test_assert(base64_encode("foobar", 6, enc) == 8 &&
	    memcmp(enc, "Zm9vYmFy", 8) == 0);
	test_assert(base64_encode("fo", 2, enc) == 4 && memcmp(enc, "Zm8=", 4) == 0);
	test_end();
}

static size_t
qp(const char *in, bool header, char *out, bool *damaged)
{
	size_t n = qp_decode(in, strlen(in), (unsigned char *)out, header,
	    damaged);

	out[n] = '\0';
	return n;
}

static void
test_qp(void)
{
	char out[256];
	bool d;

	test_begin("qp escapes and soft breaks");
	qp("caf=C3=A9 =3D ok", false, out, &d);
	test_assert(strcmp(out, "caf\xc3\xa9 = ok") == 0 && !d);
	qp("long li=\r\nne and=\nmore=  \r\nend", false, out, &d);
	test_assert(strcmp(out, "long line andmoreend") == 0 && !d);
	qp("line1\r\nline2\n", false, out, &d);
	test_assert(strcmp(out, "line1\r\nline2\n") == 0 && !d);
	qp("trailing=", false, out, &d);
	test_assert(strcmp(out, "trailing") == 0 && !d);
	test_end();

	test_begin("qp bad escapes kept literally");
	qp("a=ZZb=4", false, out, &d);
	test_assert(strcmp(out, "a=ZZb=4") == 0 && d);
	qp("=e9t=E9", false, out, &d);
	test_assert(strcmp(out, "\xe9t\xe9") == 0 && !d);
	test_end();

	test_begin("qp header mode");
	qp("Hello_World=21", true, out, &d);
	test_assert(strcmp(out, "Hello World!") == 0 && !d);
	test_end();
}

int
main(void)
{
	test_base64();
	test_qp();
	return test_exit();
}
