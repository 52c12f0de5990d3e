/*
 * engine_weak.c - TEMPORARY: weak module entry points so the engine links
 * while the regexp, Lua and map modules are being written. Each real
 * module overrides its entry here; this file goes once all three exist.
 */
#include "scan/engine.h"

__attribute__((weak)) int
multimap_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	(void)eng; (void)cfg; (void)error_r;
	return 0;
}

__attribute__((weak)) int
re_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	(void)eng; (void)cfg; (void)error_r;
	return 0;
}

__attribute__((weak)) int
lua_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r)
{
	(void)eng; (void)cfg; (void)error_r;
	return 0;
}

__attribute__((weak)) int
re_engine_finalize(struct scan_engine *eng, char **error_r)
{
	(void)eng; (void)error_r;
	return 0;
}
