/*
 * auth.h - e-mail authentication for the scanner: SPF, DKIM (verify and
 * sign), DMARC, ARC, over the asynchronous resolver in auth/dns.h.
 *
 * Each module registers its symbols and rules with the scan engine from
 * its *_engine_init(); auth_engine_init() calls them all and is called by
 * scan_engine_new(). Like every engine module, nothing per-process (the
 * resolver, its sockets) is created at init: the engine is built in the
 * main process and inherited by forked workers.
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

struct config;
struct scan_engine;

int auth_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);

int spf_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int dkim_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int dkim_signing_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int dmarc_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);
int arc_engine_init(struct scan_engine *eng, struct config *cfg, char **error_r);

#endif
