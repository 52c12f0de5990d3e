/*
 * dmarc.h - DMARC (RFC 7489): record parser, identifier alignment, policy
 * evaluation, the scan rule and aggregate-report data.
 *
 * The pure parts (dmarc_record_parse, dmarc_aligned, dmarc_evaluate) take
 * no task and do no I/O, so they are unit-tested and fuzzed alone. The
 * rule (dmarc_check.c) discovers the record over DNS, reads the SPF and
 * DKIM results from the task's auth context (auth/auth_task.h), inserts
 * the DMARC_* symbols and, when dmarc.conf has `actions`, sets the policy
 * as the pre-result. Aggregate-report rows go to an LMDB database
 * (dmarc_report.c) when `reporting` is enabled.
 */
#ifndef AUTH_DMARC_H
#define AUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct psl;
struct buf;
struct config;

enum dmarc_policy {
	DMARC_POLICY_UNSET = 0, /* sp absent: p applies */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align_mode {
	DMARC_ALIGN_RELAXED = 0,
	DMARC_ALIGN_STRICT,
};

/* A parsed record. String tags are views into the parsed text. */
struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;        /* UNSET when absent */
	unsigned pct;                /* 0..100, default 100 */
	enum dmarc_align_mode adkim; /* default relaxed */
	enum dmarc_align_mode aspf;
	struct str rua, ruf;         /* comma-separated URIs as written, or empty */
	struct str fo;               /* default "0" */
	struct str rf;               /* default "afrf" */
	uint32_t ri;                 /* default 86400 */
};

/*
 * Parses one TXT record (its strings concatenated). Returns 1 for a valid
 * record; 0 when the text is not a DMARC record at all (does not start with
 * a v=DMARC1 tag: such TXT records are skipped during discovery); -1 with a
 * static reason in *error_r for a DMARC record with a syntax error (no
 * policy applies: DMARC_BAD_POLICY). Tag names and keyword values are
 * matched case-insensitively and spaces around tags and '=' are allowed;
 * unknown tags are ignored, duplicates are errors. A record without p= is
 * valid only with a rua= (RFC 7489 6.6.3), and then means p=none.
 */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec_r,
    const char **error_r);

const char *dmarc_policy_name(enum dmarc_policy p);

/*
 * Identifier alignment (RFC 7489 3.1): strict needs the same name, relaxed
 * the same organizational domain (by `psl`, NULL for the "*" rule only).
 * ASCII case-insensitive; trailing dots ignored. NULL or empty never align.
 */
bool dmarc_aligned(const struct psl *psl, const char *from_domain,
    const char *auth_domain, enum dmarc_align_mode mode);

enum dmarc_auth_result {
	DMARC_AUTH_NONE = 0,
	DMARC_AUTH_PASS,
	DMARC_AUTH_FAIL,
	DMARC_AUTH_TEMPERROR,
	DMARC_AUTH_PERMERROR,
};

struct dmarc_dkim_sig {
	const char *domain;          /* d= */
	enum dmarc_auth_result result;
};

/* What SPF and DKIM found for the message. */
struct dmarc_auth {
	const char *spf_domain;      /* domain SPF checked (MAIL FROM, else HELO) */
	enum dmarc_auth_result spf;
	const struct dmarc_dkim_sig *dkim;
	size_t n_dkim;
};

enum dmarc_disposition {
	DMARC_DISP_NONE = 0,
	DMARC_DISP_QUARANTINE,
	DMARC_DISP_REJECT,
};

struct dmarc_outcome {
	bool pass;
	bool spf_aligned;            /* SPF passed with an aligned domain */
	bool dkim_aligned;           /* some passing signature is aligned */
	bool spf_pass_unaligned;     /* passed, but not aligned */
	bool dkim_pass_unaligned;
	bool temperror;              /* a tempfail might have turned into a pass */
	const char *dkim_domain;     /* the aligned d=, or NULL */
	enum dmarc_policy policy;    /* p, or sp for a subdomain */
	bool sampled_out;            /* pct excluded it: one level lower */
	enum dmarc_disposition disposition;
	char reason[160];            /* "No valid SPF, DKIM not aligned (relaxed)" */
};

/*
 * Evaluates `rec` for the message. `use_sp` is true when the record came
 * from the organizational domain for a From domain below it. `sample` is
 * a number in 0..99 (dmarc_sample()); the message is inside pct when
 * sample < pct.
 */
void dmarc_evaluate(const struct psl *psl, const struct dmarc_record *rec,
    bool use_sp, const char *from_domain, const struct dmarc_auth *auth,
    unsigned sample, struct dmarc_outcome *out_r);

/*
 * Deterministic pct sample in 0..99 from the Message-ID (FNV-1a), so a
 * message gets the same treatment on every rescan and tests can predict
 * it. NULL or empty Message-ID gives 0 (always inside pct).
 */
unsigned dmarc_sample(const char *message_id);

/* What the DMARC rule leaves in auth_task->dmarc (for ARC's AAR). */
struct dmarc_task_result {
	const char *domain;          /* From domain */
	const char *result;          /* pass, fail, none, temperror, permerror */
	enum dmarc_policy policy;
	enum dmarc_disposition disposition;
};

/* Aggregate-report storage (dmarc_report.c). */

struct dmarc_report_row {
	const char *date;            /* "YYYYMMDD" (UTC) */
	const char *domain;          /* From domain */
	const char *ip;              /* source IP */
	enum dmarc_disposition disposition;
	bool dkim_aligned, spf_aligned;
	enum dmarc_policy policy;    /* published p (or sp) */
	unsigned pct;
};

/*
 * Adds one message to the counts in `<dbdir>/dmarc_reports.lmdb`, opened
 * lazily in the calling process (reopened after a fork). Returns 0, or -1
 * with a heap *error_r.
 */
int dmarc_report_store(const char *dbdir, const struct dmarc_report_row *row,
    char **error_r);

/*
 * Appends a JSON summary of `date` ("YYYYMMDD") to `out`:
 * {"date":..., "domains":[{"domain":..., "policy":..., "pct":...,
 * "records":[{"source_ip":..., "count":N, "disposition":..., "dkim":
 * "pass"|"fail", "spf":"pass"|"fail"}]}]}. A missing database lists no
 * domains. Returns 0, or -1 with a heap *error_r.
 */
int dmarc_report_list_json(const char *dbdir, const char *date, struct buf *out,
    char **error_r);

/* The date of `t` as "YYYYMMDD" (UTC) in buf[9]. */
void dmarc_report_date(long long t, char buf[9]);

/* Closes the process's database handle (tests, rspamadm). */
void dmarc_report_close(void);

#endif
