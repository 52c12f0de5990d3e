/*
 * actions.c - score thresholds to action names.
 */
#include "scan/actions.h"
#include "config/config.h"
#include "core/common.h"

#include <math.h>
#include <string.h>

static const char *const action_names[] = {
	"reject", "soft reject", "rewrite subject", "add header", "greylist",
	"no action", "discard", "quarantine",
};

const char *
action_canonical_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(action_names); i++) {
		const char *a = action_names[i];
		size_t j;

		for (j = 0; a[j] != '\0' && name[j] != '\0'; j++) {
			if (a[j] != name[j] && !(a[j] == ' ' && (name[j] == '_' || name[j] == '-')))
				break;
		}
		if (a[j] == '\0' && name[j] == '\0')
			return a;
	}
	return NULL;
}

const char *
actions_for_score(const struct config_actions *a, double score)
{
	/* Ordered from the strongest: the first threshold reached wins. */
	const struct {
		double threshold;
		const char *name;
	} order[] = {
		{ a->reject, "reject" },
		{ a->rewrite_subject, "rewrite subject" },
		{ a->add_header, "add header" },
		{ a->greylist, "greylist" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (!isnan(order[i].threshold) && score >= order[i].threshold)
			return order[i].name;
	}
	return "no action";
}

double
actions_required_score(const struct config_actions *a)
{
	double best = NAN;

	if (!isnan(a->reject))
		return a->reject;
	if (!isnan(a->rewrite_subject))
		best = a->rewrite_subject;
	if (!isnan(a->add_header) && (isnan(best) || a->add_header > best))
		best = a->add_header;
	if (!isnan(a->greylist) && (isnan(best) || a->greylist > best))
		best = a->greylist;
	return isnan(best) ? 0.0 : best;
}

bool
action_is_spam(const char *action)
{
	return strcmp(action, "reject") == 0 || strcmp(action, "soft reject") == 0 ||
	    strcmp(action, "rewrite subject") == 0 || strcmp(action, "add header") == 0;
}
