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
	if (spf_engine_init(eng, cfg, error_r) < 0)
		return -1;
	if (dkim_engine_init(eng, cfg, error_r) < 0 ||
	    dkim_signing_engine_init(eng, cfg, error_r) < 0)
		return -1;
	if (dmarc_engine_init(eng, cfg, error_r) < 0)
		return -1;
	if (arc_engine_init(eng, cfg, error_r) < 0)
		return -1;
	return 0;
}
