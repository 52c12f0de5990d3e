/*
 * bayes_internal.h - pieces of the statistics module shared between its
 * files and the unit tests: the tokenizer, the classifier arithmetic and
 * the message digest. Nothing outside src/scan/bayes/ and its tests
 * includes it.
 */
#ifndef SCAN_BAYES_INTERNAL_H
#define SCAN_BAYES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/bayes/bayes_backend.h"

struct mime_message;
struct pool;

struct bayes_tok_opts {
	unsigned max_words;     /* words per message, the time bound */
	unsigned max_word_len;  /* UTF-16 units; longer words are dropped */
	unsigned window;        /* OSB window: pairs at distance 1..window-1 */
	bool unigrams;          /* single words as tokens too */
	bool meta;              /* header/structure/URL tokens */
	bool nfkc;              /* NFKC_Casefold instead of plain case folding */
};

void bayes_tok_defaults(struct bayes_tok_opts *o);

/*
 * Word hashes of UTF-8 `text` (folded, ICU word boundaries) appended to
 * words[*n .. max). Returns -1 when the pool cap is reached.
 */
int bayes_words(struct pool *pool, const char *text, size_t len,
    const struct bayes_tok_opts *o, uint64_t *words, size_t max, size_t *n);

/* OSB pair tokens of words[0..n) into out (room for n * (window - 1)); returns count. */
size_t bayes_osb(const uint64_t *words, size_t n, unsigned window, uint64_t *out);

/*
 * Every token of a parsed message, sorted and without duplicates, in a pool
 * array. *n_words_r (may be NULL) gets the number of words read. Returns
 * -1 when the pool cap is reached.
 */
int bayes_tokenize(struct pool *pool, const struct mime_message *msg,
    const struct bayes_tok_opts *o, uint64_t **hashes_r, size_t *n_r, size_t *n_words_r);

/* 128-bit digest of the decoded text parts and subject (or the raw bytes). */
void bayes_digest(const struct mime_message *msg, const char *data, size_t len,
    uint8_t digest[16]);

struct bayes_cls_opts {
	double strength;        /* Robinson's s */
	double x;               /* prior for unseen tokens */
	double min_dev;         /* |f - 0.5| below this: token ignored */
	unsigned max_tokens;    /* most interesting tokens used; 0 = all */
};

void bayes_cls_defaults(struct bayes_cls_opts *o);

/* Upper tail of chi-square with `v` (even) degrees of freedom at x2. */
double bayes_chi2q(double x2, unsigned v);
/* Robinson's f(w) for counts in classes of totals ns, nh. */
double bayes_token_prob(uint32_t spam, uint32_t ham, uint64_t ns, uint64_t nh,
    const struct bayes_cls_opts *o);
/*
 * Spam probability 0..1 of the tokens (counts filled), Fisher combination.
 * *used_r gets the number of tokens that counted; 0.5 when none did.
 */
double bayes_classify(const struct bayes_token *tokens, size_t n, uint64_t ns,
    uint64_t nh, const struct bayes_cls_opts *o, size_t *used_r);

/* ---- module state (bayes.c, learn.c) ---- */

struct config;
struct ev_loop;
struct obj;
struct scan_engine;
struct scan_task;

struct bayes_autolearn {
	bool enabled;
	double spam_threshold;  /* learn spam at or above this score */
	double ham_threshold;   /* learn ham at or below */
	bool check_balance;
	double min_balance;
};

/* One per engine (ENGINE_SLOT_STAT); the backend instance is per process. */
struct bayes_ctx {
	const struct obj *section;   /* classifier "bayes" {}, in cfg->root */
	struct config *cfg;          /* borrowed: the engine holds a reference */
	const struct bayes_backend_ops *ops;
	void *be;                    /* opened lazily, by be_pid */
	int be_pid;
	bool be_shared;              /* process-wide LMDB env: never closed here */
	const char *spam_symbol, *ham_symbol;
	unsigned min_tokens, min_learns;
	double margin;               /* |prob - 0.5| needed for a symbol */
	bool per_user;
	struct bayes_autolearn al;
	struct bayes_tok_opts tok;
	struct bayes_cls_opts cls;
};

/* Per task (task->bayes_task), in the task pool. */
struct bayes_task_state {
	uint64_t *hashes;
	size_t n;
	size_t n_words;              /* min_tokens counts words, not meta tokens */
	bool tokenized;
	bool have_totals;
	struct bayes_totals totals;
	double prob;                 /* -1 when not classified */
};

struct bayes_ctx *bayes_ctx_of(const struct scan_engine *eng);
/* The backend of this process, opened on first use; NULL with a log on failure. */
void *bayes_backend_get(struct bayes_ctx *ctx, struct ev_loop *loop);
bool bayes_backend_is_async(const struct bayes_ctx *ctx);
/* Tokens of the task (tokenized once); NULL when the pool cap was hit. */
struct bayes_task_state *bayes_task_tokens(struct bayes_ctx *ctx, struct scan_task *task);
const char *bayes_task_user(const struct bayes_ctx *ctx, const struct scan_task *task);
/* Whether the LMDB store was ever created (a scan does not create it). */
bool bayes_lmdb_exists(const struct obj *classifier, const struct config *cfg);
/* The autolearn POSTFILTER rule (learn.c). */
void bayes_autolearn_rule(struct scan_task *task, void *ud);
int bayes_autolearn_config(struct bayes_ctx *ctx, const struct obj *v, char **error_r);

#endif
