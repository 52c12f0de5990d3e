/*
 * netaddr.c - CIDR parsing and matching.
 */
#include "core/netaddr.h"
#include "core/str.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int
netmask_parse(const char *text, struct netmask *m)
{
	char buf[64];
	char *slash;
	unsigned max;

	if (str_lcpy(buf, text, sizeof(buf)) >= sizeof(buf))
		return -1;
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(m, 0, sizeof(*m));
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	m->bits = max;
	if (slash != NULL) {
		uint64_t bits;

		if (str_to_u64(str_from_cstr(slash), &bits) < 0 || bits > max)
			return -1;
		m->bits = (unsigned)bits;
	}
	return 0;
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
netmask_match_text(const struct netmask *m, const char *ip)
{
	uint8_t addr[16];
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ip == NULL)
		return false;
	if (inet_pton(AF_INET, ip, addr) == 1)
		return m->family == AF_INET && prefix_equal(addr, m->addr, m->bits);
	if (inet_pton(AF_INET6, ip, addr) != 1)
		return false;
	if (m->family == AF_INET6)
		return prefix_equal(addr, m->addr, m->bits);
	return memcmp(addr, v4mapped, 12) == 0 && prefix_equal(addr + 12, m->addr, m->bits);
}
