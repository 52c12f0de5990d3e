/*
 * smtp_proto.c - command line splitting, ESMTP parameters and reply
 * formatting for the SMTP server (see smtp_proto.h).
 *
 * Everything here takes explicit lengths: client bytes may contain NULs,
 * and a NUL in a command must be an error, never a silent truncation.
 */
#include "smtp/smtp_proto.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/common.h"

#include <string.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO },
	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT },
	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY },
	{ "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH },
};

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r)
{
	size_t i = 0;

	memset(cmd_r, 0, sizeof(*cmd_r));
	for (size_t j = 0; j < len; j++) {
		unsigned char ch = (unsigned char)line[j];

		if ((ch < 32 && ch != '\t') || ch == 127)
			return -1;
	}
	while (i < len && line[i] != ' ')
		i++;
	if (i == 0)
		return -1;
	cmd_r->name = str_make(line, i);
	while (i < len && line[i] == ' ')
		i++;
	cmd_r->arg = str_make(line + i, len - i);
	while (cmd_r->arg.len > 0 && (cmd_r->arg.ptr[cmd_r->arg.len - 1] == ' ' ||
	    cmd_r->arg.ptr[cmd_r->arg.len - 1] == '\t'))
		cmd_r->arg.len--;
	cmd_r->verb = SMTP_VERB_UNKNOWN;
	for (size_t v = 0; v < ARRAY_SIZE(verbs); v++) {
		if (str_case_eq_cstr(cmd_r->name, verbs[v].name)) {
			cmd_r->verb = verbs[v].verb;
			break;
		}
	}
	return 0;
}

int
smtp_cmd_expect_prefix(struct str arg, const char *prefix, struct str *rest_r)
{
	size_t n = strlen(prefix);

	if (arg.len < n || !str_case_eq(str_make(arg.ptr, n), str_make(prefix, n)))
		return -1;
	*rest_r = str_make(arg.ptr + n, arg.len - n);
	return 0;
}

/* xtext (RFC 3461 4): printable ASCII but '+' and '=', or "+HH". */
static bool
is_xtext(struct str v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char ch = (unsigned char)v.ptr[i];

		if (ch == '+') {
			if (i + 2 >= v.len)
				return false;
			if (ascii_hex_value(v.ptr[i + 1]) < 0 || ascii_hex_value(v.ptr[i + 2]) < 0)
				return false;
			i += 2;
		} else if (ch < 33 || ch > 126 || ch == '=') {
			return false;
		}
	}
	return v.len > 0;
}

static enum smtp_param_error
mail_param(struct str key, struct str val, bool has_val, unsigned *seen,
    struct smtp_mail_params *p)
{
	static const char *const names[] = { "SIZE", "BODY", "SMTPUTF8", "AUTH" };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(names); k++)
		if (str_case_eq_cstr(key, names[k]))
			break;
	if (k == ARRAY_SIZE(names))
		return SMTP_PARAM_UNKNOWN;
	if (*seen & (1u << k))
		return SMTP_PARAM_SYNTAX;
	*seen |= 1u << k;
	switch (k) {
	case 0:
		if (!has_val || val.len > 20 || str_to_u64(val, &p->size) < 0)
			return SMTP_PARAM_SYNTAX;
		p->has_size = true;
		return SMTP_PARAM_OK;
	case 1:
		if (has_val && str_case_eq_cstr(val, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (has_val && str_case_eq_cstr(val, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else if (has_val && str_case_eq_cstr(val, "BINARYMIME"))
			p->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_PARAM_SYNTAX;
		return SMTP_PARAM_OK;
	case 2:
		if (has_val)
			return SMTP_PARAM_SYNTAX;
		p->smtputf8 = true;
		return SMTP_PARAM_OK;
	default:
		if (!has_val || (!str_eq_cstr(val, "<>") && !is_xtext(val)))
			return SMTP_PARAM_SYNTAX;
		p->has_auth = true;
		return SMTP_PARAM_OK;
	}
}

enum smtp_param_error
smtp_cmd_mail_params(struct str params, struct smtp_mail_params *params_r)
{
	unsigned seen = 0;
	size_t i = 0;

	memset(params_r, 0, sizeof(*params_r));
	while (i < params.len) {
		size_t start, eq = 0;
		bool has_val = false;
		enum smtp_param_error e;

		while (i < params.len && params.ptr[i] == ' ')
			i++;
		if (i == params.len)
			break;
		start = i;
		while (i < params.len && params.ptr[i] != ' ') {
			if (params.ptr[i] == '=' && !has_val) {
				has_val = true;
				eq = i;
			}
			i++;
		}
		if (has_val && eq == start)
			return SMTP_PARAM_SYNTAX;
		e = mail_param(str_make(params.ptr + start, (has_val ? eq : i) - start),
		    has_val ? str_make(params.ptr + eq + 1, i - eq - 1) : STR_NULL,
		    has_val, &seen, params_r);
		if (e != SMTP_PARAM_OK)
			return e;
	}
	return SMTP_PARAM_OK;
}

int
smtp_cmd_bdat_args(struct str arg, uint64_t *size_r, bool *last_r)
{
	ptrdiff_t sp = str_find_chr(arg, ' ');
	struct str num = sp < 0 ? arg : str_make(arg.ptr, (size_t)sp);
	struct str rest = STR_NULL;

	*last_r = false;
	if (sp >= 0) {
		rest = str_trim(str_make(arg.ptr + sp, arg.len - (size_t)sp));
		if (!str_case_eq_cstr(rest, "LAST"))
			return -1;
		*last_r = true;
	}
	if (num.len == 0 || num.len > 20 || str_to_u64(num, size_r) < 0)
		return -1;
	return 0;
}

int
smtp_cmd_auth_args(struct str arg, struct str *mech_r, struct str *initial_r,
    bool *has_initial_r)
{
	ptrdiff_t sp = str_find_chr(arg, ' ');

	*has_initial_r = sp >= 0;
	*mech_r = sp < 0 ? arg : str_make(arg.ptr, (size_t)sp);
	*initial_r = sp < 0 ? STR_NULL : str_trim(str_make(arg.ptr + sp, arg.len - (size_t)sp));
	if (mech_r->len == 0 || (*has_initial_r && (initial_r->len == 0 ||
	    str_find_chr(*initial_r, ' ') >= 0)))
		return -1;
	return 0;
}

long
smtp_sasl_decode(struct str in, unsigned char *out)
{
	bool damaged = false;
	size_t n;

	if (str_eq_cstr(in, "="))
		return 0;
	if (in.len == 0 || in.len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in.len; i++) {
		char ch = in.ptr[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		    (ch == '=' && i >= in.len - 2)))
			return -1;
		if (ch != '=' && i > 0 && in.ptr[i - 1] == '=')
			return -1;
	}
	n = base64_decode(in.ptr, in.len, out, &damaged);
	return damaged ? -1 : (long)n;
}

int
smtp_reply_format(struct buf *out, int code, const char *enhanced,
    const char *text)
{
	const char *p = text != NULL ? text : "";

	if (code < 200 || code > 599)
		code = 451;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (buf_printf(out, "%d%c", code, nl != NULL ? '-' : ' ') < 0)
			return -1;
		if (enhanced != NULL && buf_printf(out, "%s%s", enhanced, n > 0 ? " " : "") < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];

			if (buf_putc(out, (ch < 32 || ch == 127) ? ' ' : (char)ch) < 0)
				return -1;
		}
		if (buf_append(out, "\r\n", 2) < 0)
			return -1;
		if (nl == NULL)
			return 0;
		p = nl + 1;
	}
}
