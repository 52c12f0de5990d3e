/*
 * auth_engine.c - registers the authentication modules with the engine.
 *
 * Each module adds its own line below in the commit that adds the module,
 * so the tree always links.
 */
#include "auth/auth.h"

int
auth_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	(void)eng;
	(void)cfg;
	(void)error_r;
	return 0;
}
