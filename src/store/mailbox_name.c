/*
 * mailbox_name.c - UTF-8 IMAP mailbox names to Maildir++ folder
 * directory names and back (rules in mailbox.h).
 *
 * The mapping must be injective and must never yield a path that leaves
 * the mailbox root: '/' never reaches the file system (it becomes the
 * Maildir++ '.'), a '.' inside a component is escaped so it cannot be
 * read as a separator, and "." / ".." components are refused outright.
 * '%' is escaped too so that decoding is unambiguous. UTF-8 is checked
 * (shortest form, no surrogates) because names come from clients and we
 * do not want two byte strings naming one folder.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int
fail_errno(int err)
{
	errno = err;
	return -1;
}

bool
mailbox_name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool
needs_escape(unsigned char c)
{
	return c == '.' || c == '%' || c == '/' || c < 0x20 || c == 0x7f;
}

static int
put(char *out, size_t size, size_t *o, const char *p, size_t n)
{
	if (*o + n >= size)
		return fail_errno(ENAMETOOLONG);
	memcpy(out + *o, p, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/* Encodes one component name[0..len) (already split at '/'). */
static int
encode_component(const char *comp, size_t len, bool first, char *out,
    size_t size, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0;

	if (len == 0 || (len == 1 && comp[0] == '.') ||
	    (len == 2 && comp[0] == '.' && comp[1] == '.'))
		return fail_errno(EINVAL);
	if (first && len == 5 && strncasecmp(comp, "INBOX", 5) == 0)
		return put(out, size, o, "INBOX", 5);
	while (i < len) {
		unsigned char c = (unsigned char)comp[i];
		size_t n;

		if (c < 0x20 || c == 0x7f)
			return fail_errno(EINVAL);
		if (needs_escape(c)) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			if (put(out, size, o, e, 3) < 0)
				return -1;
			i++;
			continue;
		}
		n = utf8_seq_len((const unsigned char *)comp + i, len - i);
		if (n == 0)
			return fail_errno(EINVAL);
		if (put(out, size, o, comp + i, n) < 0)
			return -1;
		i += n;
	}
	return 0;
}

/* Top-level names Maildir++ itself uses would collide with cur/new/tmp
 * if a reader ever forgot the leading dot; maildir_folder_valid() refuses
 * them, so their first letter is escaped. */
static int
escape_reserved(char *out, size_t size)
{
	char tmp[8];

	if (strcmp(out, "cur") != 0 && strcmp(out, "new") != 0 &&
	    strcmp(out, "tmp") != 0)
		return 0;
	if (str_format(tmp, sizeof(tmp), "%%%02X%s", (unsigned char)out[0],
	    out + 1) < 0 || str_lcpy(out, tmp, size) >= size)
		return fail_errno(ENAMETOOLONG);
	return 0;
}

int
mailbox_name_to_dir(const char *name, char *out, size_t out_size)
{
	size_t o = 0, len = strlen(name);
	const char *p = name, *end = name + len;

	if (out_size == 0)
		return fail_errno(ENAMETOOLONG);
	out[0] = '\0';
	if (len == 0 || len > MAILBOX_NAME_MAX)
		return fail_errno(EINVAL);
	if (mailbox_name_is_inbox(name))
		return 0;
	while (p <= end) {
		const char *slash = memchr(p, MAILBOX_SEP, (size_t)(end - p));
		size_t n = slash != NULL ? (size_t)(slash - p) : (size_t)(end - p);

		if (p != name && put(out, out_size, &o, ".", 1) < 0)
			return -1;
		if (encode_component(p, n, p == name, out, out_size, &o) < 0)
			return -1;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return escape_reserved(out, out_size);
}

int
mailbox_dir_to_name(const char *dir, char *out, size_t out_size)
{
	size_t i, o = 0, len = strlen(dir);
	char check[MAILBOX_NAME_MAX * 3 + 1];

	if (len == 0)
		return put(out, out_size, &o, "INBOX", 5);
	for (i = 0; i < len; i++) {
		char c = dir[i];

		if (c == '.') {
			c = MAILBOX_SEP;
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return fail_errno(EINVAL);
			hi = ascii_hex_value(dir[i + 1]);
			lo = hi < 0 ? -1 : ascii_hex_value(dir[i + 2]);
			if (lo < 0)
				return fail_errno(EINVAL);
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (put(out, out_size, &o, &c, 1) < 0)
			return -1;
	}
	/* Only names that map back to exactly dir are ours (this also
	 * rejects lowercase hex and needless escapes). */
	if (mailbox_name_to_dir(out, check, sizeof(check)) < 0 ||
	    strcmp(check, dir) != 0)
		return fail_errno(EINVAL);
	return 0;
}

int
mbx_name_normalize(const char *name, char *out, size_t out_size)
{
	char dir[MAILBOX_NAME_MAX * 3 + 1];

	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0)
		return -1;
	return mailbox_dir_to_name(dir, out, out_size);
}

int
mbx_folder_path(const char *root, const char *name, char *out,
    size_t out_size)
{
	char dir[MAILBOX_NAME_MAX * 3 + 1];

	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0)
		return -1;
	if (dir[0] == '\0')
		return str_lcpy(out, root, out_size) >= out_size ?
		    fail_errno(ENAMETOOLONG) : 0;
	return str_format(out, out_size, "%s/.%s", root, dir) < 0 ?
	    fail_errno(ENAMETOOLONG) : 0;
}
