/*
 * redis_settings.c - the Redis server options shared by the scan modules
 * that keep state in Redis (see redis_settings.h for why they share it).
 */
#include "scan/redis_settings.h"

#include "config/config.h"
#include "core/obj.h"
#include "core/xmalloc.h"

static bool
redis_settings_has_any(const struct obj *sec, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (obj_lookup(sec, keys[i]) != NULL)
			return true;
	}
	return false;
}

const struct obj *
redis_settings_section(const struct obj *own, const struct config *cfg,
    const char *const *keys, size_t n)
{
	const struct obj *global = cfg != NULL ? obj_lookup(cfg->root, "redis") : NULL;

	if (redis_settings_has_any(own, keys, n))
		return own;
	if (redis_settings_has_any(global, keys, n))
		return global;
	return NULL;
}

int
redis_settings_read(const struct obj *sec, const char *const *keys, size_t n,
    struct redis_conn_settings *s, const char **error_r)
{
	const struct obj *servers = NULL, *o;
	int64_t db = 0;

	for (size_t i = 0; i < n && servers == NULL; i++)
		servers = obj_lookup(sec, keys[i]);
	if (redis_conn_parse_server(servers, s, error_r) < 0)
		return -1;
	if ((o = obj_lookup(sec, "password")) != NULL && obj_get_string(o) != NULL)
		s->password = xstrdup(obj_get_string(o));
	if ((o = obj_lookup(sec, "username")) != NULL && obj_get_string(o) != NULL)
		s->username = xstrdup(obj_get_string(o));
	if ((o = obj_lookup(sec, "db")) != NULL &&
	    (obj_get_int(o, &db) < 0 || db < 0 || db > 65535)) {
		*error_r = "redis db must be a number";
		return -1;
	}
	s->db = (int)db;
	return 0;
}
