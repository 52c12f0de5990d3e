/*
 * netaddr.h - IPv4/IPv6 addresses and CIDR networks, for secure_ip,
 * mynetworks and IP maps.
 */
#ifndef CORE_NETADDR_H
#define CORE_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

struct netmask {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

/* "10.0.0.0/8", "192.0.2.1", "::1", "fd00::/8". -1 when unparsable. */
int netmask_parse(const char *text, struct netmask *mask_r);
/* Does the textual address `ip` lie in `mask`? IPv4-mapped IPv6 matches v4. */
bool netmask_match_text(const struct netmask *mask, const char *ip);

#endif
