/*
 * lua_date.c - RFC 5322 date-time parsing for task:get_date{format=
 * 'message'}.
 *
 * Accepts the RFC form "[Day,] D Mon YYYY HH:MM[:SS] zone" and what real
 * mail sends instead: two-digit years (RFC 5322 §4.3: < 50 -> 20xx),
 * obsolete zone names (UT, GMT, EST..PDT, military letters), missing
 * zones (taken as UTC), comments after the zone and extra spaces. The
 * result is seconds since the epoch in UTC, computed without the C
 * library's time zone state (timegm is not in C11).
 */
#include "scan/lua/lua_internal.h"

#include <string.h>

struct date_cursor {
	const char *p, *end;
};

static void
skip_cfws(struct date_cursor *c)
{
	int depth = 0;

	while (c->p < c->end) {
		char ch = *c->p;

		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != '\r' &&
		    ch != '\n' && ch != ',')
			return;
		c->p++;
	}
}

/* Up to `max` digits; -1 when there is none. */
static long
read_num(struct date_cursor *c, int max)
{
	long v = 0;
	int n = 0;

	while (c->p < c->end && n < max && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	return n == 0 ? -1 : v;
}

static size_t
read_word(struct date_cursor *c, char *buf, size_t size)
{
	size_t n = 0;

	while (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') ||
	    (*c->p >= 'A' && *c->p <= 'Z'))) {
		if (n + 1 < size)
			buf[n++] = (char)(*c->p | 0x20);
		c->p++;
	}
	buf[n] = '\0';
	return n;
}

static int
month_index(const char *w)
{
	static const char *const months[] = { "jan", "feb", "mar", "apr",
		"may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

	for (int i = 0; i < 12; i++) {
		if (strncmp(w, months[i], 3) == 0)
			return i;
	}
	return -1;
}

/* Zone offset in minutes; 0 for unknown names (RFC 5322 says treat as -0000). */
static long
zone_offset(struct date_cursor *c)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "ut", 0 }, { "gmt", 0 }, { "utc", 0 }, { "z", 0 },
		{ "est", -5 }, { "edt", -4 }, { "cst", -6 }, { "cdt", -5 },
		{ "mst", -7 }, { "mdt", -6 }, { "pst", -8 }, { "pdt", -7 },
	};
	char w[8];

	skip_cfws(c);
	if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
		int sign = *c->p == '-' ? -1 : 1;
		long v;

		c->p++;
		v = read_num(c, 4);
		if (v < 0)
			return 0;
		return sign * ((v / 100) * 60 + v % 100);
	}
	if (read_word(c, w, sizeof(w)) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcmp(w, zones[i].name) == 0)
			return zones[i].hours * 60;
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's method). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
lua_parse_rfc5322_date(const char *s, size_t len, int64_t *time_r)
{
	struct date_cursor c = { s, s + len };
	long day, year, hh, mm, ss = 0;
	int mon;
	char w[16];

	skip_cfws(&c);
	/* Optional day name. */
	if (c.p < c.end && !(*c.p >= '0' && *c.p <= '9')) {
		read_word(&c, w, sizeof(w));
		skip_cfws(&c);
	}
	day = read_num(&c, 2);
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	if (day < 1 || day > 31 || read_word(&c, w, sizeof(w)) < 3 ||
	    (mon = month_index(w)) < 0)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	year = read_num(&c, 4);
	if (year < 0)
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	skip_cfws(&c);
	hh = read_num(&c, 2);
	if (hh < 0 || c.p >= c.end || *c.p != ':')
		return -1;
	c.p++;
	mm = read_num(&c, 2);
	if (c.p < c.end && *c.p == ':') {
		c.p++;
		ss = read_num(&c, 2);
	}
	if (mm < 0 || mm > 59 || hh > 23 || ss < 0 || ss > 60)
		return -1;
	*time_r = days_from_civil(year, (unsigned)mon + 1, (unsigned)day) *
	    86400 + hh * 3600 + mm * 60 + ss - zone_offset(&c) * 60;
	return 0;
}
