/*
 * auth_task.c - the per-task authentication context (see auth_task.h).
 *
 * Allocated lazily so scans that never reach an auth module pay nothing.
 */
#include "auth/auth_task.h"

#include "core/pool.h"
#include "scan/task.h"

struct auth_task *
auth_task_get(struct scan_task *task)
{
	if (task->auth_task == NULL)
		task->auth_task = pool_alloc(task->pool, sizeof(struct auth_task));
	return task->auth_task;
}
