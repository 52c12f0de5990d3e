/*
 * dmarc.c - the pure half of DMARC: record parser (RFC 7489 6.3/6.4),
 * identifier alignment (3.1) and policy evaluation (6.6), with pct
 * sampling.
 *
 * The parser is strict about values of the tags it knows (a record whose
 * p= says "rejct" applies no policy at all rather than a guessed one, as
 * RFC 7489 6.6.3 lets a receiver discard a broken record) but tolerant of
 * what senders commonly write: tag names and keywords in any case, spaces
 * around tags and '=', empty tag-specs (";;", trailing ';'), unknown tags.
 * Nothing here allocates: string tags are views into the input.
 */
#include "auth/dmarc.h"

#include <string.h>

#include "auth/psl.h"
#include "core/common.h"

#define DMARC_NAME_MAX 256

enum {
	TAG_V = 1u << 0,
	TAG_P = 1u << 1,
	TAG_SP = 1u << 2,
	TAG_PCT = 1u << 3,
	TAG_ADKIM = 1u << 4,
	TAG_ASPF = 1u << 5,
	TAG_RUA = 1u << 6,
	TAG_RUF = 1u << 7,
	TAG_FO = 1u << 8,
	TAG_RF = 1u << 9,
	TAG_RI = 1u << 10,
};

static const struct {
	const char *name;
	unsigned bit;
} dmarc_tags[] = {
	{ "v", TAG_V }, { "p", TAG_P }, { "sp", TAG_SP }, { "pct", TAG_PCT },
	{ "adkim", TAG_ADKIM }, { "aspf", TAG_ASPF }, { "rua", TAG_RUA },
	{ "ruf", TAG_RUF }, { "fo", TAG_FO }, { "rf", TAG_RF }, { "ri", TAG_RI },
};

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	case DMARC_POLICY_UNSET:
		break;
	}
	return "unset";
}

static int
dmarc_parse_policy(struct str v, enum dmarc_policy *p_r)
{
	if (str_case_eq_cstr(v, "none"))
		*p_r = DMARC_POLICY_NONE;
	else if (str_case_eq_cstr(v, "quarantine"))
		*p_r = DMARC_POLICY_QUARANTINE;
	else if (str_case_eq_cstr(v, "reject"))
		*p_r = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

static int
dmarc_parse_align(struct str v, enum dmarc_align_mode *m_r)
{
	if (str_case_eq_cstr(v, "r"))
		*m_r = DMARC_ALIGN_RELAXED;
	else if (str_case_eq_cstr(v, "s"))
		*m_r = DMARC_ALIGN_STRICT;
	else
		return -1;
	return 0;
}

/*
 * Calls check(item) for each `sep`-separated item (trimmed); -1 if any
 * item is empty or rejected.
 */
static int
dmarc_each_item(struct str v, char sep, int (*check)(struct str item))
{
	size_t pos = 0;

	for (;;) {
		struct str rest = str_slice(v, pos, v.len - pos);
		ptrdiff_t at = str_find_chr(rest, sep);
		size_t n = at < 0 ? rest.len : (size_t)at;
		struct str item = str_trim(str_slice(rest, 0, n));
		if (item.len == 0 || check(item) < 0)
			return -1;
		if (at < 0)
			return 0;
		pos += n + 1;
	}
}

/* dmarc-uri: a URI (scheme ':' ...) with an optional "!size[kmgt]". */
static int
dmarc_check_uri(struct str item)
{
	ptrdiff_t colon = str_find_chr(item, ':');

	if (colon <= 0)
		return -1;
	for (ptrdiff_t i = 0; i < colon; i++) {
		char c = item.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' ||
		    c == '.'))))
			return -1;
	}
	return (size_t)colon + 1 < item.len ? 0 : -1;
}

static int
dmarc_check_fo(struct str item)
{
	if (item.len != 1)
		return -1;
	return strchr("01ds", ascii_tolower(item.ptr[0])) != NULL ? 0 : -1;
}

static int
dmarc_check_keyword(struct str item)
{
	for (size_t i = 0; i < item.len; i++) {
		char c = item.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			return -1;
	}
	return 0;
}

static int
dmarc_parse_uint(struct str v, uint64_t max, uint64_t *n_r)
{
	if (v.len == 0 || v.len > 10 || str_to_u64(v, n_r) < 0 || *n_r > max)
		return -1;
	return 0;
}

/* One known tag's value into rec; -1 with the reason on a bad value. */
static int
dmarc_parse_value(unsigned tag, struct str v, struct dmarc_record *rec,
    const char **error_r)
{
	uint64_t n;

	switch (tag) {
	case TAG_P:
		*error_r = "invalid p= policy";
		return dmarc_parse_policy(v, &rec->p);
	case TAG_SP:
		*error_r = "invalid sp= policy";
		return dmarc_parse_policy(v, &rec->sp);
	case TAG_ADKIM:
		*error_r = "invalid adkim= mode";
		return dmarc_parse_align(v, &rec->adkim);
	case TAG_ASPF:
		*error_r = "invalid aspf= mode";
		return dmarc_parse_align(v, &rec->aspf);
	case TAG_PCT:
		*error_r = "invalid pct= value";
		if (dmarc_parse_uint(v, 100, &n) < 0)
			return -1;
		rec->pct = (unsigned)n;
		return 0;
	case TAG_RI:
		*error_r = "invalid ri= value";
		if (dmarc_parse_uint(v, UINT32_MAX, &n) < 0)
			return -1;
		rec->ri = (uint32_t)n;
		return 0;
	case TAG_RUA:
	case TAG_RUF:
		*error_r = tag == TAG_RUA ? "invalid rua= URI" : "invalid ruf= URI";
		if (dmarc_each_item(v, ',', dmarc_check_uri) < 0)
			return -1;
		*(tag == TAG_RUA ? &rec->rua : &rec->ruf) = v;
		return 0;
	case TAG_FO:
		*error_r = "invalid fo= option";
		rec->fo = v;
		return dmarc_each_item(v, ':', dmarc_check_fo);
	case TAG_RF:
		*error_r = "invalid rf= format";
		rec->rf = v;
		return dmarc_each_item(v, ':', dmarc_check_keyword);
	default:
		break;
	}
	return 0;
}

static unsigned
dmarc_tag_bit(struct str name)
{
	for (size_t i = 0; i < ARRAY_SIZE(dmarc_tags); i++)
		if (str_case_eq_cstr(name, dmarc_tags[i].name))
			return dmarc_tags[i].bit;
	return 0;
}

static void
dmarc_record_defaults(struct dmarc_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	rec->fo = STR_LIT("0");
	rec->rf = STR_LIT("afrf");
	rec->ri = 86400;
}

/*
 * Splits the next ';'-terminated tag-spec off *rest; returns false at the
 * end of the text.
 */
static bool
dmarc_next_spec(struct str *rest, struct str *spec_r)
{
	ptrdiff_t semi;

	if (rest->len == 0)
		return false;
	semi = str_find_chr(*rest, ';');
	if (semi < 0) {
		*spec_r = *rest;
		*rest = STR_NULL;
	} else {
		*spec_r = str_slice(*rest, 0, (size_t)semi);
		*rest = str_slice(*rest, (size_t)semi + 1,
		    rest->len - (size_t)semi - 1);
	}
	*spec_r = str_trim(*spec_r);
	return true;
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec_r,
    const char **error_r)
{
	struct str rest = str_make(txt, len), spec;
	unsigned seen = 0;

	dmarc_record_defaults(rec_r);
	while (dmarc_next_spec(&rest, &spec)) {
		ptrdiff_t eq;
		struct str name, value;
		unsigned bit;

		if (spec.len == 0 && seen != 0)
			continue;
		eq = str_find_chr(spec, '=');
		if (eq < 0) {
			if (seen == 0)
				return 0;
			*error_r = "tag without '='";
			return -1;
		}
		name = str_trim(str_slice(spec, 0, (size_t)eq));
		value = str_trim(str_slice(spec, (size_t)eq + 1,
		    spec.len - (size_t)eq - 1));
		bit = dmarc_tag_bit(name);
		if (seen == 0) {
			if (bit != TAG_V || !str_case_eq_cstr(value, "DMARC1"))
				return 0;
			seen = TAG_V;
			continue;
		}
		if (bit == 0)
			continue; /* unknown tags are ignored (6.3) */
		if (seen & bit) {
			*error_r = "duplicate tag";
			return -1;
		}
		seen |= bit;
		if (dmarc_parse_value(bit, value, rec_r, error_r) < 0)
			return -1;
	}
	if (seen == 0)
		return 0;
	if (!(seen & TAG_P)) {
		if (!(seen & TAG_RUA)) {
			*error_r = "no p= policy";
			return -1;
		}
		rec_r->p = DMARC_POLICY_NONE;
	}
	return 1;
}

/* Lowercased copy without a trailing dot; false if empty or too long. */
static bool
dmarc_norm_domain(const char *in, char *out, size_t size)
{
	size_t len;

	if (in == NULL)
		return false;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = ascii_tolower(in[i]);
	out[len] = '\0';
	return true;
}

bool
dmarc_aligned(const struct psl *psl, const char *from_domain,
    const char *auth_domain, enum dmarc_align_mode mode)
{
	char a[DMARC_NAME_MAX], b[DMARC_NAME_MAX];

	if (!dmarc_norm_domain(from_domain, a, sizeof(a)) ||
	    !dmarc_norm_domain(auth_domain, b, sizeof(b)))
		return false;
	if (strcmp(a, b) == 0)
		return true;
	if (mode == DMARC_ALIGN_STRICT)
		return false;
	return strcmp(psl_org_domain(psl, a), psl_org_domain(psl, b)) == 0;
}

unsigned
dmarc_sample(const char *message_id)
{
	uint32_t h = 2166136261u;

	if (message_id == NULL || *message_id == '\0')
		return 0;
	for (const unsigned char *p = (const unsigned char *)message_id; *p;
	    p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % 100;
}

static void
dmarc_reason_add(struct dmarc_outcome *out, const char *what)
{
	size_t len = strlen(out->reason);

	if (len > 0)
		str_format(out->reason + len, sizeof(out->reason) - len, ", %s",
		    what);
	else
		str_lcpy(out->reason, what, sizeof(out->reason));
}

static void
dmarc_eval_dkim(const struct psl *psl, const struct dmarc_record *rec,
    const char *from_domain, const struct dmarc_auth *auth,
    struct dmarc_outcome *out)
{
	for (size_t i = 0; i < auth->n_dkim; i++) {
		const struct dmarc_dkim_sig *sig = &auth->dkim[i];
		bool aligned = dmarc_aligned(psl, from_domain, sig->domain,
		    rec->adkim);
		if (sig->result == DMARC_AUTH_PASS && aligned) {
			out->dkim_aligned = true;
			out->dkim_domain = sig->domain;
			return;
		}
		if (sig->result == DMARC_AUTH_PASS)
			out->dkim_pass_unaligned = true;
		else if (sig->result == DMARC_AUTH_TEMPERROR && aligned)
			out->temperror = true;
	}
}

static void
dmarc_eval_reasons(const struct dmarc_record *rec, const struct dmarc_auth *auth,
    struct dmarc_outcome *out)
{
	if (out->spf_pass_unaligned)
		dmarc_reason_add(out, rec->aspf == DMARC_ALIGN_STRICT ?
		    "SPF not aligned (strict)" : "SPF not aligned (relaxed)");
	else if (auth->spf == DMARC_AUTH_TEMPERROR)
		dmarc_reason_add(out, "SPF tempfail");
	else
		dmarc_reason_add(out, "No valid SPF");
	if (out->dkim_pass_unaligned)
		dmarc_reason_add(out, rec->adkim == DMARC_ALIGN_STRICT ?
		    "DKIM not aligned (strict)" : "DKIM not aligned (relaxed)");
	else if (out->temperror && auth->spf != DMARC_AUTH_TEMPERROR)
		dmarc_reason_add(out, "DKIM tempfail");
	else
		dmarc_reason_add(out, "No valid DKIM");
}

void
dmarc_evaluate(const struct psl *psl, const struct dmarc_record *rec,
    bool use_sp, const char *from_domain, const struct dmarc_auth *auth,
    unsigned sample, struct dmarc_outcome *out_r)
{
	memset(out_r, 0, sizeof(*out_r));
	out_r->policy = use_sp && rec->sp != DMARC_POLICY_UNSET ? rec->sp :
	    rec->p;
	if (auth->spf == DMARC_AUTH_PASS) {
		if (dmarc_aligned(psl, from_domain, auth->spf_domain, rec->aspf))
			out_r->spf_aligned = true;
		else
			out_r->spf_pass_unaligned = true;
	} else if (auth->spf == DMARC_AUTH_TEMPERROR &&
	    dmarc_aligned(psl, from_domain, auth->spf_domain, rec->aspf)) {
		out_r->temperror = true;
	}
	dmarc_eval_dkim(psl, rec, from_domain, auth, out_r);
	out_r->pass = out_r->spf_aligned || out_r->dkim_aligned;
	if (out_r->pass)
		return;
	dmarc_eval_reasons(rec, auth, out_r);
	switch (out_r->policy) {
	case DMARC_POLICY_REJECT:
		out_r->disposition = DMARC_DISP_REJECT;
		break;
	case DMARC_POLICY_QUARANTINE:
		out_r->disposition = DMARC_DISP_QUARANTINE;
		break;
	default:
		return;
	}
	/* Outside pct: the next policy down (RFC 7489 6.3, "pct"). */
	if (sample >= rec->pct) {
		out_r->sampled_out = true;
		out_r->disposition = out_r->disposition == DMARC_DISP_REJECT ?
		    DMARC_DISP_QUARANTINE : DMARC_DISP_NONE;
	}
}
