/*
 * classifier.c - the arithmetic of the Bayes classifier, kept apart from
 * storage and configuration so tests can check it with known counts.
 *
 * Each token's spam probability follows Robinson: the class frequencies
 * (count / messages learnt in that class) give p = fs / (fs + fh), which is
 * then pulled towards the prior x with strength s according to how often
 * the token was seen at all, so a token seen once cannot be decisive. The
 * most interesting tokens (farthest from 0.5) are combined with Fisher's
 * method: two inverse chi-square tests, one for "these are spam
 * probabilities" and one for "these are ham probabilities"; their
 * difference gives a result in 0..1 that stays near 0.5 when the evidence
 * conflicts, instead of the overconfident naive-Bayes product.
 */
#include "scan/bayes/bayes_internal.h"

#include "core/common.h"
#include "core/xmalloc.h"

#include <math.h>
#include <stdlib.h>

void
bayes_cls_defaults(struct bayes_cls_opts *o)
{
	o->strength = 1.0;
	o->x = 0.5;
	/* Chosen by 5-fold cross-validation on TRAIN (test_bayes_cv). */
	o->min_dev = 0.2;
	o->max_tokens = 0;
}

double
bayes_chi2q(double x2, unsigned v)
{
	double m = x2 / 2.0, lm, lsum, lterm;

	if (x2 <= 0.0 || v < 2)
		return 1.0;
	/*
	 * Q = e^-m * sum_{i < v/2} m^i / i!, summed in log space: with a few
	 * hundred degrees of freedom e^-m alone underflows while Q does not.
	 */
	lm = log(m);
	lterm = -m;
	lsum = lterm;
	for (unsigned i = 1; i < v / 2; i++) {
		lterm += lm - log((double)i);
		lsum = lsum > lterm ? lsum + log1p(exp(lterm - lsum)) :
		    lterm + log1p(exp(lsum - lterm));
	}
	return MIN(exp(lsum), 1.0);
}

double
bayes_token_prob(uint32_t spam, uint32_t ham, uint64_t ns, uint64_t nh,
    const struct bayes_cls_opts *o)
{
	double fs = ns > 0 ? MIN((double)spam / (double)ns, 1.0) : 0.0;
	double fh = nh > 0 ? MIN((double)ham / (double)nh, 1.0) : 0.0;
	double n = (double)spam + (double)ham, p;

	if (fs + fh <= 0.0)
		return o->x;
	p = fs / (fs + fh);
	return (o->strength * o->x + n * p) / (o->strength + n);
}

static int
cmp_dev(const void *a, const void *b)
{
	double x = fabs(*(const double *)a - 0.5), y = fabs(*(const double *)b - 0.5);

	return x > y ? -1 : x < y;
}

double
bayes_classify(const struct bayes_token *tokens, size_t n, uint64_t ns,
    uint64_t nh, const struct bayes_cls_opts *o, size_t *used_r)
{
	double *f = xcalloc(n + 1, sizeof(*f)), lh = 0.0, ls = 0.0, h, s;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		double p;

		if (tokens[i].spam == 0 && tokens[i].ham == 0)
			continue;
		p = bayes_token_prob(tokens[i].spam, tokens[i].ham, ns, nh, o);
		if (fabs(p - 0.5) >= o->min_dev)
			f[k++] = p;
	}
	if (o->max_tokens > 0 && k > o->max_tokens) {
		qsort(f, k, sizeof(*f), cmp_dev);
		k = o->max_tokens;
	}
	*used_r = k;
	if (k == 0) {
		free(f);
		return 0.5;
	}
	for (size_t i = 0; i < k; i++) {
		/* Keep logs finite: a probability is never exactly 0 or 1 here. */
		double p = MIN(MAX(f[i], 1e-9), 1.0 - 1e-9);

		lh += log(p);
		ls += log(1.0 - p);
	}
	free(f);
	/* s nears 1 when the tokens are jointly spammy, h when jointly hammy. */
	s = 1.0 - bayes_chi2q(-2.0 * ls, (unsigned)(2 * k));
	h = 1.0 - bayes_chi2q(-2.0 * lh, (unsigned)(2 * k));
	return (1.0 + s - h) / 2.0;
}
