/*
 * auth_task.h - per-task state shared by the authentication modules: the
 * DNS request count of the task and each module's result, so DMARC can
 * read what SPF and DKIM found without running them again.
 *
 * Lives in the task pool; task->auth_task points at it once a module asked
 * for it with auth_task_get(). Each module owns its own field.
 */
#ifndef AUTH_AUTH_TASK_H
#define AUTH_AUTH_TASK_H

#include <stddef.h>

struct scan_task;
struct spf_result;
struct dkim_task_result;
struct dmarc_task_result;

struct auth_task {
	unsigned dns_requests;              /* through dns_task_resolve() */
	const struct spf_result *spf;       /* set by the SPF rule when done */
	const struct dkim_task_result *dkim;/* set by the DKIM rule */
	const struct dmarc_task_result *dmarc;
};

/* The task's context, created (zeroed, in the task pool) on first use; NULL
 * only when the pool is at its cap. */
struct auth_task *auth_task_get(struct scan_task *task);

#endif
