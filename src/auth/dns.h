/*
 * dns.h - asynchronous DNS resolver on a libev loop (c-ares underneath),
 * with a shared answer cache that honours TTLs, the DNSSEC AD bit passed
 * through as the server sent it, and per-task lookup limits.
 *
 * Nothing here blocks: queries go out on c-ares sockets watched by the
 * loop, and answers come back through callbacks. A resolver belongs to one
 * process and one loop; the scan helper dns_task_resolve() creates it
 * lazily in each worker (the engine is built before forking, so nothing
 * per-process exists at init).
 *
 * Configuration: options { dns { nameserver = ["127.0.0.1:5353", ...]; or
 * nameserver = "a,b"; or "master-slave:a,b"; timeout = 1s;
 * retransmits = 5; cache_size = 4096; } }. Without nameservers the system
 * resolv.conf is used (read by c-ares, no blocking resolver call).
 */
#ifndef AUTH_DNS_H
#define AUTH_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct ev_loop;
struct scan_task;
struct dns_resolver;
struct dns_request;

/* Query types (the IANA values, same as ns_t_* in arpa/nameser.h). */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
};

struct dns_settings {
	char **nameservers;      /* "ip", "ip:port", "[v6]:port"; none = resolv.conf */
	size_t n_nameservers;
	double timeout;          /* seconds per try, default 1 */
	unsigned retransmits;    /* tries, default 5 */
	size_t cache_entries;    /* 0 disables the cache; default 4096 */
	unsigned max_task_requests; /* options.dns_max_requests, default 64 */
};

/*
 * Reads options.dns (cfg may be NULL: defaults). Returns 0, or -1 with a
 * heap *error_r for a malformed value. Free with dns_settings_deinit().
 */
int dns_settings_from_config(const struct config *cfg, struct dns_settings *s,
    char **error_r);
void dns_settings_deinit(struct dns_settings *s);

struct dns_resolver *dns_resolver_new(struct ev_loop *loop, const struct dns_settings *s,
    char **error_r);
/* Outstanding requests are cancelled (their callbacks are not called). */
void dns_resolver_free(struct dns_resolver **r);

enum dns_rcode {
	DNS_RC_NOERROR,    /* includes NODATA: n_rr == 0 */
	DNS_RC_NXDOMAIN,
	DNS_RC_SERVFAIL,
	DNS_RC_TIMEOUT,
	DNS_RC_REFUSED,
	DNS_RC_ERROR,      /* malformed reply, format error, out of memory... */
};

struct dns_rr {
	int type;                /* enum dns_type */
	uint32_t ttl;
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			uint16_t pref;
			const char *name;
		} mx;
		/* the character-strings of ONE record, concatenated */
		struct {
			const char *data;
			size_t len;
		} txt;
		const char *name;    /* PTR, CNAME */
	} v;
};

/*
 * Only records of the asked type are listed (a CNAME chain the server
 * followed is not; ask for DNS_T_CNAME to see the alias itself).
 */
struct dns_reply {
	const char *qname;
	int qtype;
	enum dns_rcode rcode;
	bool ad;                 /* DNSSEC AD bit as the server sent it */
	bool from_cache;
	const struct dns_rr *rr;
	size_t n_rr;
};

/* `reply` and everything it points to are valid only during the call. */
typedef void dns_cb(const struct dns_reply *reply, void *ud);

/*
 * Looks `name` up (exact name, no search list). `cb` may run before this
 * returns (cache hit, invalid name), in which case NULL is returned.
 * Otherwise returns a handle for dns_request_cancel(), valid until `cb`
 * runs.
 */
struct dns_request *dns_resolve(struct dns_resolver *r, const char *name, int qtype,
    dns_cb *cb, void *ud);
/* `cb` is never called afterwards. */
void dns_request_cancel(struct dns_resolver *r, struct dns_request *req);

/* Queries sent to servers so far (cache hits not counted); for tests. */
unsigned long dns_resolver_queries_sent(const struct dns_resolver *r);
/* Drops every cached answer. */
void dns_resolver_cache_clear(struct dns_resolver *r);

/*
 * Scanning helper: resolves on the worker's resolver (created lazily per
 * process from the task's config and loop), counting against
 * options.dns_max_requests (default 64) per task, registered as pending
 * work on the task ("dns") so the stage waits for it and the time budget
 * cancels it. Returns 0 when started (cb may already have run), -1 without
 * calling cb when the limit is hit, task->loop is NULL or the resolver
 * cannot be created.
 */
int dns_task_resolve(struct scan_task *task, const char *name, int qtype, dns_cb *cb,
    void *ud);
/* Lookups this task made so far through dns_task_resolve. */
unsigned dns_task_requests(const struct scan_task *task);

#endif
