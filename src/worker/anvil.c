/*
 * anvil.c - per-client SMTP counters in a small chained hash table.
 *
 * Entries are dropped when a client has no connection open and its
 * windows have run out; a sweep runs every few thousand events, so the
 * table stays as large as the set of recently active clients.
 */
#include "worker/anvil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xmalloc.h"

#define ANVIL_BUCKETS 4096
#define ANVIL_SWEEP_EVERY 4096
#define ANVIL_IP_MAX 64

struct anvil_window {
	double start;
	unsigned count;
};

struct anvil_client {
	char ip[ANVIL_IP_MAX];
	unsigned active;
	struct anvil_window conn, rcpt, auth;
	double last;
	struct anvil_client *next;
};

struct anvil {
	struct anvil_limits lim;
	struct anvil_client *buckets[ANVIL_BUCKETS];
	unsigned events;
};

static uint32_t
hash_ip(const char *ip)
{
	uint32_t h = 2166136261u;

	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % ANVIL_BUCKETS;
}

struct anvil *
anvil_new(const struct anvil_limits *limits)
{
	struct anvil *a = xcalloc(1, sizeof(*a));

	a->lim = *limits;
	if (a->lim.window <= 0)
		a->lim.window = 60;
	return a;
}

void
anvil_free(struct anvil **ap)
{
	struct anvil *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < ANVIL_BUCKETS; i++) {
		while (a->buckets[i] != NULL) {
			struct anvil_client *c = a->buckets[i];

			a->buckets[i] = c->next;
			free(c);
		}
	}
	free(a);
	*ap = NULL;
}

static void
sweep(struct anvil *a, double now)
{
	for (size_t i = 0; i < ANVIL_BUCKETS; i++) {
		struct anvil_client **pp = &a->buckets[i];

		while (*pp != NULL) {
			struct anvil_client *c = *pp;

			if (c->active == 0 && now - c->last > a->lim.window) {
				*pp = c->next;
				free(c);
			} else {
				pp = &c->next;
			}
		}
	}
}

static struct anvil_client *
client(struct anvil *a, const char *ip, double now, bool create)
{
	uint32_t h = hash_ip(ip);
	struct anvil_client *c;

	for (c = a->buckets[h]; c != NULL; c = c->next) {
		if (strcmp(c->ip, ip) == 0)
			break;
	}
	if (c == NULL && create) {
		if (++a->events % ANVIL_SWEEP_EVERY == 0)
			sweep(a, now);
		c = xcalloc(1, sizeof(*c));
		str_lcpy(c->ip, ip, sizeof(c->ip));
		c->next = a->buckets[h];
		a->buckets[h] = c;
	}
	if (c != NULL && create)
		c->last = now;
	return c;
}

/* Counts one event in the window; true while within `limit`. */
static bool
window_add(struct anvil_window *w, double now, double window, unsigned limit)
{
	if (w->count == 0 || now - w->start >= window) {
		w->start = now;
		w->count = 0;
	}
	w->count++;
	return limit == 0 || w->count <= limit;
}

bool
anvil_connect(struct anvil *a, const char *ip, double now)
{
	struct anvil_client *c = client(a, ip, now, true);
	bool rate_ok = window_add(&c->conn, now, a->lim.window, a->lim.conn_rate);

	c->active++;
	return rate_ok && (a->lim.conn_count == 0 || c->active <= a->lim.conn_count);
}

void
anvil_disconnect(struct anvil *a, const char *ip)
{
	struct anvil_client *c = client(a, ip, 0, false);

	if (c != NULL && c->active > 0)
		c->active--;
}

bool
anvil_rcpt(struct anvil *a, const char *ip, double now)
{
	struct anvil_client *c = client(a, ip, now, true);

	return window_add(&c->rcpt, now, a->lim.window, a->lim.rcpt_rate);
}

void
anvil_auth_failed(struct anvil *a, const char *ip, double now)
{
	struct anvil_client *c = client(a, ip, now, true);

	(void)window_add(&c->auth, now, a->lim.window, a->lim.auth_fail);
}

bool
anvil_auth_blocked(struct anvil *a, const char *ip, double now)
{
	struct anvil_client *c = client(a, ip, now, false);

	if (c == NULL || a->lim.auth_fail == 0 || now - c->auth.start >= a->lim.window)
		return false;
	return c->auth.count >= a->lim.auth_fail;
}
