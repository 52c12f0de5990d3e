/*
 * Unit tests of the reply-object-to-milter-packets mapping: each action,
 * the milter block's header edits (remove with the message's real header
 * counts, add/insert orders), DKIM signatures, spam_header, no_action,
 * discard/quarantine on reject, and an unusable reply.
 */
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/obj.h"
#include "milter/milter_map.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The message has two X-Spam headers and one Subject; 5 headers in all. */
static size_t
count(const char *name, void *ud)
{
	(void)ud;
	if (name == NULL)
		return 5;
	if (strcasecmp(name, "X-Spam") == 0)
		return 2;
	return strcasecmp(name, "Subject") == 0 ? 1 : 0;
}

/* Packets rendered as "code:text" lines ('\0' -> '|', indexes as #n). */
static char *
render(const char *json, const struct milter_map_opts *o)
{
	static char out[4096];
	char *err = NULL;
	struct obj *r = json != NULL ? ucl_parse_json(json, strlen(json), &err) : NULL;
	struct buf b;
	size_t off = 0, pos = 0;

	buf_init(&b, 0);
	milter_map_reply(r, o, count, NULL, &b);
	obj_free(&r);
	free(err);
	while (pos + 5 <= b.len && off < sizeof(out) - 64) {
		const unsigned char *p = (const unsigned char *)b.data + pos;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		size_t i = 1;

		out[off++] = (char)p[4];
		out[off++] = ':';
		if (p[4] == 'i' || p[4] == 'm') {
			off += (size_t)snprintf(out + off, 16, "#%u|", (unsigned)p[8]);
			i = 5;
		}
		for (; i < len && off < sizeof(out) - 8; i++)
			out[off++] = p[4 + i] == '\0' ? '|' : (char)p[4 + i];
		out[off++] = ' ';
		pos += 4 + len;
	}
	out[off] = '\0';
	buf_deinit(&b);
	return out;
}

static const struct milter_map_opts defaults = { NULL, NULL, NULL, false, false };

static void
test_actions(void)
{
	struct milter_map_opts o = defaults;

	test_begin("actions");
	test_assert(strcmp(render("{\"action\":\"no action\"}", &o), "a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"greylist\"}", &o),
	    "y:451 4.7.1 Try again later| ") == 0);
	test_assert(strcmp(render("{\"action\":\"reject\"}", &o),
	    "y:550 5.7.1 Spam message rejected| ") == 0);
	test_assert(strcmp(render("{\"action\":\"reject\",\"messages\":{\"smtp_message\":"
	    "\"Blacklisted\"}}", &o), "y:550 5.7.1 Blacklisted| ") == 0);
	test_assert(strcmp(render("{\"action\":\"soft reject\"}", &o),
	    "y:451 4.7.1 Try again later| ") == 0);
	test_assert(strcmp(render("{\"action\":\"rewrite subject\",\"subject\":\"***SPAM*** hi\"}",
	    &o), "m:#1|Subject|***SPAM*** hi| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"add header\"}", &o),
	    "m:#2|X-Spam|| m:#1|X-Spam|| m:#1|X-Spam|Yes| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"discard\"}", &o), "d: ") == 0);
	test_assert(strcmp(render("{\"action\":\"quarantine\"}", &o),
	    "q:Spam message quarantined| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"whatever\"}", &o), "t: ") == 0);
	test_assert(strcmp(render("{}", &o), "t: ") == 0);
	test_assert(strcmp(render(NULL, &o), "t: ") == 0);
	o.discard_on_reject = true;
	test_assert(strcmp(render("{\"action\":\"reject\"}", &o), "d: ") == 0);
	o.discard_on_reject = false;
	o.quarantine_on_reject = true;
	o.reject_message = "Go away";
	test_assert(strcmp(render("{\"action\":\"reject\"}", &o), "q:Go away| a: ") == 0);
	test_end();
}

static void
test_block(void)
{
	test_begin("milter block, DKIM, spam_header, no_action");
	test_assert(strcmp(render("{\"action\":\"add header\",\"milter\":{\"remove_headers\":"
	    "{\"X-Spam\":0,\"Absent\":0},\"add_headers\":{\"X-A\":{\"value\":\"1\",\"order\":-1},"
	    "\"X-B\":{\"value\":\"2\",\"order\":0},\"X-C\":\"3\",\"X-D\":[{\"value\":\"4\"},"
	    "{\"value\":\"5\",\"order\":-2}]}}}", &defaults),
	    "m:#2|X-Spam|| m:#1|X-Spam|| h:X-A|1| i:#0|X-B|2| h:X-C|3| h:X-D|4| i:#4|X-D|5| "
	    "m:#1|X-Spam|Yes| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"reject\",\"milter\":{\"remove_headers\":"
	    "{\"X-Spam\":-1}}}", &defaults),
	    "m:#2|X-Spam|| y:550 5.7.1 Spam message rejected| ") == 0);
	test_assert(strcmp(render("{\"action\":\"no action\",\"dkim-signature\":[\"v=1; a\","
	    "\"v=1; b\"]}", &defaults),
	    "i:#1|DKIM-Signature|v=1; a| i:#2|DKIM-Signature|v=1; b| a: ") == 0);
	/* signatures already in add_headers are not inserted twice */
	test_assert(strcmp(render("{\"action\":\"no action\",\"dkim-signature\":\"v=1; a\","
	    "\"milter\":{\"add_headers\":{\"DKIM-Signature\":{\"value\":\"v=1; a\",\"order\":0}}}}",
	    &defaults), "i:#0|DKIM-Signature|v=1; a| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"add header\",\"milter\":{\"spam_header\":"
	    "{\"X-Junk\":\"yes\"}}}", &defaults), "m:#1|X-Junk|yes| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"reject\",\"milter\":{\"no_action\":true}}",
	    &defaults), "h:X-Rspamd-Action|reject| a: ") == 0);
	test_assert(strcmp(render("{\"action\":\"reject\",\"milter\":{\"reject\":\"discard\"}}",
	    &defaults), "d: ") == 0);
	test_assert(strcmp(render("{\"action\":\"no action\",\"milter\":{\"change_from\":"
	    "\"<b@x>\",\"add_rcpt\":[\"<c@x>\"],\"del_rcpt\":\"<d@x>\"}}", &defaults),
	    "e:<b@x>| +:<c@x>| -:<d@x>| a: ") == 0);
	test_end();
}

int
main(void)
{
	test_actions();
	test_block();
	return test_exit();
}
