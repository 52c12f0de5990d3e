/*
 * redis_settings.h - reading where a scan module's Redis is from the
 * configuration: the module's own section when it names servers, else the
 * global redis {} section, and from that section the server address,
 * password, username and db.
 *
 * The bayes classifier and the greylist module read these the same way
 * (so one redis {} serves both); only which server keys count, in what
 * order, and the timeout (each module has its own key and syntax) differ,
 * so those stay with the caller.
 */
#ifndef SCAN_REDIS_SETTINGS_H
#define SCAN_REDIS_SETTINGS_H

#include <stddef.h>

#include "scan/bayes/redis_conn.h"

struct config;
struct obj;

/*
 * `own` when it holds one of keys[0..n), else redis {} of `cfg` when that
 * does, else NULL.
 */
const struct obj *redis_settings_section(const struct obj *own, const struct config *cfg,
    const char *const *keys, size_t n);
/*
 * Fills the server (from the first of keys[0..n) present in `sec`),
 * password, username and db of *s; leaves the timeouts alone. Returns 0,
 * or -1 with a static *error_r (strings already set stay in *s for
 * redis_conn_settings_deinit()).
 */
int redis_settings_read(const struct obj *sec, const char *const *keys, size_t n,
    struct redis_conn_settings *s, const char **error_r);

#endif
