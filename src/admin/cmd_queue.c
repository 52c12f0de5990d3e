/*
 * cmd_queue.c - `rspamadm queue ...`: the mail queue for operators, the
 * counterpart of Postfix's postqueue -p / -j / -f, postcat -q and
 * postsuper -d / -h / -H. The work itself is in queue/queue_admin.c,
 * shared with the controller's /queue endpoints; this file parses the
 * command line, prints and picks exit codes.
 *
 *   queue list [-j]          one block per message:
 *       ID + flag ('*' active, '!' hold), size, arrival time (local),
 *       sender, then each undelivered recipient, preceded by its last
 *       reply in parentheses when there is one; a "-- N Kbytes in M
 *       Requests." trailer, or "Mail queue is empty". -j: one JSON object
 *       per line (fields as in queue_admin.h).
 *   queue flush              deferred -> incoming: retry now
 *   queue cat ID             envelope, then the message
 *   queue delete ID...|ALL [incoming|deferred|hold]
 *   queue hold ID...         incoming/deferred -> hold
 *   queue release ID...      hold -> incoming
 *
 * Exit codes: 0 success; 1 not found or I/O error; 2 usage error or an
 * invalid queue id; 75 (EX_TEMPFAIL) the message is being delivered
 * right now (active queue, owned by the queue manager): retry later.
 * IDs are validated with spool_id_valid() before anything else is done.
 */
#include "admin/admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "core/xmalloc.h"
#include "queue/queue_admin.h"
#include "queue/spool.h"

#define EXIT_NOTFOUND 1
#define EXIT_USAGE 2
#define EXIT_BUSY 75

static const char queue_usage[] =
	"usage: rspamadm [-c CONF] [--state-dir DIR] queue COMMAND\n"
	"  list [-j]                 show the queue (-j: JSON, one object per line)\n"
	"  flush                     retry all deferred mail now\n"
	"  cat ID                    print the envelope and the message\n"
	"  delete ID...              delete messages (not while being delivered)\n"
	"  delete ALL [incoming|deferred|hold]\n"
	"                            delete every message (of one queue)\n"
	"  hold ID...                put messages on hold (no delivery)\n"
	"  release ID...             release held messages for delivery now\n"
	"List format: ID ('*' = being delivered, '!' = on hold), size in bytes,\n"
	"arrival time, sender; then each undelivered recipient, after its last\n"
	"reply in parentheses.\n"
	"Exit: 0 ok, 1 not found or I/O error, 2 usage or invalid id,\n"
	"75 message being delivered (retry later).\n";

static int
open_spool(const struct admin_ctx *ctx, struct spool **spool_r)
{
	struct config *cfg = NULL;
	char *error = NULL, *root;
	int rc;

	if (config_load(ctx->conf_path, ctx->state_dir, &cfg, &error) < 0) {
		fprintf(stderr, "rspamadm: %s\n", error != NULL ? error :
		    "cannot load config");
		free(error);
		return -1;
	}
	root = xasprintf("%s/spool", cfg->state_dir);
	config_unref(&cfg);
	rc = spool_open(root, spool_r, &error);
	if (rc < 0) {
		fprintf(stderr, "rspamadm: %s\n", error != NULL ? error :
		    "cannot open the spool");
		free(error);
	}
	free(root);
	return rc;
}

static const char *
str_field(const struct obj *o, const char *key)
{
	const char *s = obj_get_string(obj_lookup(o, key));

	return s != NULL ? s : "";
}

static int64_t
int_field(const struct obj *o, const char *key)
{
	int64_t v = 0;

	(void)obj_get_int(obj_lookup(o, key), &v);
	return v;
}

static void
print_entry(const struct obj *m)
{
	const char *q = str_field(m, "queue_name");
	const struct obj *r;
	char when[64];
	time_t t = (time_t)int_field(m, "arrival_time");
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%a %b %d %H:%M:%S", &tm) == 0)
		when[0] = '\0';
	printf("%s%c %9lld %-20s %s\n", str_field(m, "queue_id"),
	    strcmp(q, "active") == 0 ? '*' : strcmp(q, "hold") == 0 ? '!' : ' ',
	    (long long)int_field(m, "message_size"), when,
	    str_field(m, "sender")[0] != '\0' ? str_field(m, "sender") :
	    "MAILER-DAEMON");
	for (r = obj_first(obj_lookup(m, "recipients")); r != NULL; r = r->next) {
		const char *reason = str_field(r, "delay_reason");

		if (strcmp(str_field(r, "status"), "delivered") == 0)
			continue;
		if (reason[0] != '\0')
			printf("%*s(%s)\n", 8, "", reason);
		printf("%*s%s\n", 42, "", str_field(r, "address"));
	}
	printf("\n");
}

static int
cmd_list(struct spool *spool, bool json)
{
	struct obj *list = queue_admin_list(spool);
	const struct obj *m;
	uint64_t bytes = 0;
	size_t n = 0;
	struct buf b;

	buf_init(&b, 0);
	if (!json && obj_count(list) > 0)
		printf("%-20s %9s %-20s %s\n", "-Queue ID-", "--Size--",
		    "----Arrival Time----", "-Sender/Recipient-------");
	for (m = obj_first(list); m != NULL; m = m->next) {
		if (json) {
			buf_reset(&b);
			(void)obj_emit_json(m, &b, false);
			printf("%s\n", b.data != NULL ? b.data : "{}");
		} else {
			print_entry(m);
		}
		bytes += (uint64_t)int_field(m, "message_size");
		n++;
	}
	if (!json && n == 0)
		printf("Mail queue is empty\n");
	else if (!json)
		printf("-- %llu Kbytes in %zu Request%s.\n",
		    (unsigned long long)((bytes + 1023) / 1024), n, n == 1 ? "" : "s");
	buf_deinit(&b);
	obj_free(&list);
	return 0;
}

static int
exit_for(enum queue_admin_err err)
{
	switch (err) {
	case QUEUE_ADMIN_OK:
		return 0;
	case QUEUE_ADMIN_INVALID_ID:
		return EXIT_USAGE;
	case QUEUE_ADMIN_BUSY:
		return EXIT_BUSY;
	default:
		return EXIT_NOTFOUND;
	}
}

static int
cmd_cat(struct spool *spool, const char *id)
{
	enum queue_admin_err err = QUEUE_ADMIN_OK;
	struct buf b;
	int status = 0;

	buf_init(&b, 0);
	if (queue_admin_cat(spool, id, &b, &err) < 0) {
		fprintf(stderr, "rspamadm: %s: %s\n", id, queue_admin_strerror(err));
		status = exit_for(err);
	} else if (fwrite(b.data, 1, b.len, stdout) != b.len) {
		status = EXIT_NOTFOUND;
	}
	buf_deinit(&b);
	return status;
}

static int
cmd_delete_all(struct spool *spool, int argc, char **argv)
{
	enum spool_queue q = SPOOL_QUEUE_COUNT;
	unsigned n = 0;

	if (argc > 3 || (argc == 3 && (spool_queue_parse(argv[2], &q) < 0 ||
	    (q != SPOOL_INCOMING && q != SPOOL_DEFERRED && q != SPOOL_HOLD)))) {
		fprintf(stderr, "rspamadm: delete ALL takes incoming, deferred "
		    "or hold (active belongs to the queue manager)\n");
		return EXIT_USAGE;
	}
	if (queue_admin_delete_all(spool, q, &n) < 0) {
		fprintf(stderr, "rspamadm: deleted %u message%s, some could not "
		    "be removed\n", n, n == 1 ? "" : "s");
		return EXIT_NOTFOUND;
	}
	printf("deleted: %u message%s\n", n, n == 1 ? "" : "s");
	return 0;
}

typedef int id_op(struct spool *, const char *, enum queue_admin_err *);

/* Applies op to every id; all ids are validated first. */
static int
cmd_each(struct spool *spool, int argc, char **argv, id_op *op,
    const char *done)
{
	enum queue_admin_err err;
	int i, status = 0, s;

	for (i = 1; i < argc; i++) {
		if (!spool_id_valid(argv[i])) {
			fprintf(stderr, "rspamadm: '%s': %s\n", argv[i],
			    queue_admin_strerror(QUEUE_ADMIN_INVALID_ID));
			return EXIT_USAGE;
		}
	}
	for (i = 1; i < argc; i++) {
		err = QUEUE_ADMIN_OK;
		if (op(spool, argv[i], &err) == 0) {
			printf("%s: %s\n", argv[i], done);
			continue;
		}
		fprintf(stderr, "rspamadm: %s: %s\n", argv[i],
		    queue_admin_strerror(err));
		s = exit_for(err);
		if (status == 0 || s == EXIT_USAGE)
			status = s;
	}
	return status;
}

static int
dispatch(struct spool *spool, int argc, char **argv, bool json)
{
	const char *op = argv[0];
	unsigned n = 0;

	if (strcmp(op, "list") == 0 && argc == 1)
		return cmd_list(spool, json);
	if (strcmp(op, "flush") == 0 && argc == 1) {
		if (queue_admin_flush(spool, &n) < 0) {
			fprintf(stderr, "rspamadm: flush: %u moved, some failed\n", n);
			return EXIT_NOTFOUND;
		}
		printf("flushed: %u deferred message%s queued for delivery\n", n,
		    n == 1 ? "" : "s");
		return 0;
	}
	if (strcmp(op, "cat") == 0 && argc == 2) {
		if (!spool_id_valid(argv[1])) {
			fprintf(stderr, "rspamadm: '%s': invalid queue id\n", argv[1]);
			return EXIT_USAGE;
		}
		return cmd_cat(spool, argv[1]);
	}
	if (strcmp(op, "delete") == 0 && argc >= 2 && strcmp(argv[1], "ALL") == 0)
		return cmd_delete_all(spool, argc, argv);
	if (strcmp(op, "delete") == 0 && argc >= 2)
		return cmd_each(spool, argc, argv, queue_admin_delete, "deleted");
	if (strcmp(op, "hold") == 0 && argc >= 2)
		return cmd_each(spool, argc, argv, queue_admin_hold, "on hold");
	if (strcmp(op, "release") == 0 && argc >= 2)
		return cmd_each(spool, argc, argv, queue_admin_release, "released");
	fputs(queue_usage, stderr);
	return EXIT_USAGE;
}

int
admin_cmd_queue(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct spool *spool = NULL;
	char **args = xcalloc((size_t)argc + 1, sizeof(*args));
	bool json = false;
	int i, n = 0, status;

	/* -j may come anywhere; everything else is positional. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(queue_usage, stdout);
			free(args);
			return 0;
		} else
			args[n++] = argv[i];
	}
	if (n == 0) {
		fputs(queue_usage, stderr);
		free(args);
		return EXIT_USAGE;
	}
	if (open_spool(ctx, &spool) < 0) {
		free(args);
		return EXIT_NOTFOUND;
	}
	status = dispatch(spool, n, args, json);
	spool_close(&spool);
	free(args);
	return status;
}
