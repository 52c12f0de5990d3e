/*
 * config_private.h - helpers shared by config.c (loading, paths, refcount)
 * and config_sections.c (the typed sections). Not for other modules.
 */
#ifndef CONFIG_CONFIG_PRIVATE_H
#define CONFIG_CONFIG_PRIVATE_H

#include "config/config.h"
#include "core/common.h"

/*
 * Sets *error_r (heap) to "FILE:LINE: message" using where `o` was read;
 * falls back to the main config path when o was not read from a file.
 * Returns -1 so callers can `return config_error(...)`.
 */
int config_error(const struct config *cfg, const struct obj *o, char **error_r,
    const char *fmt, ...) PRINTF_LIKE(4, 5);

int config_parse_logging(struct config *cfg, char **error_r);
int config_parse_actions(struct config *cfg, char **error_r);
int config_parse_options(struct config *cfg, char **error_r);
int config_parse_workers(struct config *cfg, char **error_r);
void config_free_workers(struct config *cfg);

#endif
