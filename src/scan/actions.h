/*
 * actions.h - from a score to an action by the thresholds of actions {}.
 */
#ifndef SCAN_ACTIONS_H
#define SCAN_ACTIONS_H

#include <stdbool.h>

struct config_actions;

/* The action with the highest threshold <= score, or "no action". */
const char *actions_for_score(const struct config_actions *a, double score);
/* Threshold of reject, or the highest defined one when reject is off. */
double actions_required_score(const struct config_actions *a);
/* As rspamc decides "Spam: true": reject, soft reject, rewrite subject, add header. */
bool action_is_spam(const char *action);
/* "add_header" and "add header" both name the same action; NULL if unknown. */
const char *action_canonical_name(const char *name);

#endif
