/*
 * anvil.h - per-client counters for the SMTP server's limits, after
 * Postfix's anvil(8): concurrent connections, connection rate, recipient
 * rate and failed AUTH attempts per client IP, rates counted over a fixed
 * window of anvil_rate_time_unit seconds that starts with the client's
 * first event.
 *
 * One anvil per smtp worker process (counts are per process; the shipped
 * config runs one process per SMTP role). Clients in mynetworks are
 * exempt by the caller, as in Postfix.
 */
#ifndef WORKER_ANVIL_H
#define WORKER_ANVIL_H

#include <stdbool.h>

struct anvil;

struct anvil_limits {
	unsigned conn_count;  /* concurrent connections; 0 = none */
	unsigned conn_rate;   /* connections per window; 0 = none */
	unsigned rcpt_rate;   /* recipients per window; 0 = none */
	unsigned auth_fail;   /* failed AUTH per window before refusing; 0 = none */
	double window;        /* seconds */
};

struct anvil *anvil_new(const struct anvil_limits *limits);
void anvil_free(struct anvil **a);

/*
 * A new connection from `ip` at time `now`: counted, and false when it
 * exceeds the concurrency or rate limit (the caller answers 421 and must
 * still call anvil_disconnect()).
 */
bool anvil_connect(struct anvil *a, const char *ip, double now);
void anvil_disconnect(struct anvil *a, const char *ip);
/* One recipient; false when over the recipient rate. */
bool anvil_rcpt(struct anvil *a, const char *ip, double now);
/* Failed AUTH attempts: record one; ask whether the client is blocked. */
void anvil_auth_failed(struct anvil *a, const char *ip, double now);
bool anvil_auth_blocked(struct anvil *a, const char *ip, double now);

#endif
