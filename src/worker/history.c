/*
 * history.c - the shared, persistent scan history of history.h.
 *
 * File layout: a 64-byte header (magic, slot size, slot count, next
 * sequence number) and `rows` fixed slots of HISTORY_SLOT bytes, each
 * {seq, len, JSON text of one row}. Row k (1-based sequence) lives in
 * slot (k - 1) % rows; seq 0 marks an empty slot. A row is serialized
 * once, when it is added, so /history only concatenates stored text.
 * A row too large for its slot is stored again without symbol options
 * and descriptions, then without symbols: the rest of the row still
 * tells what happened to the message.
 *
 * Every access holds flock(LOCK_EX) on the file, which a crashed process
 * releases by dying. The controller may change the slot count (a new
 * history_rows): others notice that the file size differs from their
 * mapping and map it again before touching it.
 */
#include "worker/history.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "mime/message.h"
#include "scan/actions.h"
#include "scan/task.h"
#include "worker/shared_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HISTORY_MAGIC "RSHIST01"
#define HISTORY_SLOT 16384
#define HISTORY_HEADER 64

struct hist_header {
	char magic[8];
	uint32_t slot_size;
	uint32_t rows;
	uint64_t next_seq;
};

struct hist_slot {
	uint64_t seq;
	uint32_t len;
	uint32_t pad;
	char data[HISTORY_SLOT - 16];
};

static struct {
	char path[PATH_MAX];
	int fd;
	char *map;
	size_t map_len;
	bool warned;
} hist = { .fd = -1 };

static unsigned
configured_rows(const struct config *cfg)
{
	int64_t n;

	if (obj_get_int(obj_lookup_path(cfg->root, "options.history_rows"), &n) < 0 || n <= 0)
		return HISTORY_DEFAULT_ROWS;
	return n > HISTORY_MAX_ROWS ? HISTORY_MAX_ROWS : (unsigned)n;
}

static size_t
file_size(unsigned rows)
{
	return HISTORY_HEADER + (size_t)rows * HISTORY_SLOT;
}

static struct hist_header *
header(void)
{
	return (struct hist_header *)hist.map;
}

static struct hist_slot *
slot_at(uint64_t seq)
{
	return (struct hist_slot *)(hist.map + HISTORY_HEADER +
	    (size_t)((seq - 1) % header()->rows) * HISTORY_SLOT);
}

void
history_close(void)
{
	if (hist.map != NULL)
		munmap(hist.map, hist.map_len);
	if (hist.fd >= 0)
		close(hist.fd);
	hist.map = NULL;
	hist.map_len = 0;
	hist.fd = -1;
	hist.path[0] = '\0';
}

/* Maps the whole file as it is now; formats an empty or foreign file. */
static int
remap(unsigned rows_if_new)
{
	struct stat st;

	if (fstat(hist.fd, &st) < 0)
		return -1;
	if ((size_t)st.st_size < HISTORY_HEADER) {
		struct hist_header h = { .slot_size = HISTORY_SLOT, .rows = rows_if_new };

		memcpy(h.magic, HISTORY_MAGIC, 8);
		if (ftruncate(hist.fd, 0) < 0 || ftruncate(hist.fd, (off_t)file_size(rows_if_new)) < 0 ||
		    pwrite(hist.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			return -1;
		st.st_size = (off_t)file_size(rows_if_new);
	}
	if (hist.map != NULL && hist.map_len == (size_t)st.st_size)
		return 0;
	if (hist.map != NULL)
		munmap(hist.map, hist.map_len);
	hist.map_len = (size_t)st.st_size;
	hist.map = mmap(NULL, hist.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, hist.fd, 0);
	if (hist.map == MAP_FAILED) {
		hist.map = NULL;
		hist.map_len = 0;
		return -1;
	}
	if (memcmp(header()->magic, HISTORY_MAGIC, 8) != 0 ||
	    header()->slot_size != HISTORY_SLOT || header()->rows == 0 ||
	    file_size(header()->rows) != hist.map_len) {
		/* Not ours or damaged: start over rather than misread it. */
		log_warn("history", NULL, "%s is not a history file of this version; "
		    "starting an empty one", hist.path);
		munmap(hist.map, hist.map_len);
		hist.map = NULL;
		hist.map_len = 0;
		if (ftruncate(hist.fd, 0) < 0)
			return -1;
		return remap(rows_if_new);
	}
	return 0;
}

/* Opens (or re-opens for another dbdir) and locks; -1 when unusable. */
static int
lock_history(const struct config *cfg)
{
	char path[PATH_MAX];

	if (cfg == NULL || cfg->dbdir == NULL ||
	    str_format(path, sizeof(path), "%s/history", cfg->dbdir) < 0)
		return -1;
	if (hist.fd < 0 || strcmp(path, hist.path) != 0) {
		history_close();
		hist.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (hist.fd < 0)
			goto fail;
		str_lcpy(hist.path, path, sizeof(hist.path));
	}
	if (flock(hist.fd, LOCK_EX) < 0)
		goto fail;
	if (remap(configured_rows(cfg)) < 0) {
		flock(hist.fd, LOCK_UN);
		goto fail;
	}
	return 0;
fail:
	if (!hist.warned)
		log_error("history", NULL, "cannot use %s: %s", path, strerror(errno));
	hist.warned = true;
	history_close();
	return -1;
}

static void
unlock_history(void)
{
	flock(hist.fd, LOCK_UN);
}

/* Copies of the newest `keep` rows, newest first (heap, caller frees). */
static struct hist_slot *
save_newest(unsigned keep, unsigned *n_r)
{
	struct hist_slot *rows = xcalloc(MAX(keep, 1), sizeof(*rows));
	uint64_t seq = header()->next_seq;
	unsigned n = 0;

	for (; seq > 0 && n < keep && n < header()->rows; seq--) {
		struct hist_slot *s = slot_at(seq);

		if (s->seq == seq)
			rows[n++] = *s;
	}
	*n_r = n;
	return rows;
}

static int
resize(unsigned rows)
{
	unsigned n;
	struct hist_slot *keep = save_newest(rows, &n);
	uint64_t next = header()->next_seq;
	struct hist_header h = { .slot_size = HISTORY_SLOT, .rows = rows, .next_seq = n };

	memcpy(h.magic, HISTORY_MAGIC, 8);
	munmap(hist.map, hist.map_len);
	hist.map = NULL;
	hist.map_len = 0;
	if (ftruncate(hist.fd, 0) < 0 || ftruncate(hist.fd, (off_t)file_size(rows)) < 0 ||
	    pwrite(hist.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || remap(rows) < 0) {
		free(keep);
		return -1;
	}
	/* Renumbered 1..n, oldest first. */
	for (unsigned i = 0; i < n; i++) {
		struct hist_slot *s = &keep[n - 1 - i];

		s->seq = i + 1;
		*slot_at(i + 1) = *s;
	}
	log_info("history", NULL, "history resized to %u rows (kept %u of up to %llu)", rows, n,
	    (unsigned long long)next);
	free(keep);
	return 0;
}

int
history_open(const struct config *cfg)
{
	unsigned rows = configured_rows(cfg);
	int rc = 0;

	if (lock_history(cfg) < 0)
		return -1;
	if (header()->rows != rows)
		rc = resize(rows);
	if (hist.map != NULL)
		unlock_history();
	else
		history_close();
	return rc;
}

int
history_reset(const struct config *cfg)
{
	if (lock_history(cfg) < 0)
		return -1;
	memset(hist.map + HISTORY_HEADER, 0, hist.map_len - HISTORY_HEADER);
	header()->next_seq = 0;
	unlock_history();
	return 0;
}

static void
put_string(struct obj *o, const char *key, const char *v)
{
	obj_object_set(o, key, obj_new_string(v != NULL ? v : ""));
}

/* Addresses of one header (To, Cc) appended to `arr`. */
static void
add_addresses(const struct scan_task *task, const char *name, struct obj *arr)
{
	const char *v = task->msg != NULL ? mime_headers_get(&task->msg->headers, name) : NULL;

	if (v == NULL)
		return;
	for (struct mime_address *a = mime_parse_addresses(task->pool, v, strlen(v)); a != NULL;
	     a = a->next) {
		if (a->addr != NULL && a->addr[0] != '\0')
			obj_array_append(arr, obj_new_string(a->addr));
	}
}

static const char *
mime_sender(const struct scan_task *task)
{
	const char *v = task->msg != NULL ? mime_headers_get(&task->msg->headers, "From") : NULL;
	struct mime_address *a;

	if (v == NULL)
		return "";
	a = mime_parse_addresses(task->pool, v, strlen(v));
	return a != NULL && a->addr != NULL ? a->addr : "";
}

/* Message-ID without its angle brackets, or "undef". */
static struct obj *
message_id(const struct scan_task *task)
{
	const char *v = task->msg != NULL ? mime_headers_get(&task->msg->headers, "Message-ID") : NULL;
	struct str s;

	if (v == NULL)
		return obj_new_string("undef");
	s = str_trim(str_from_cstr(v));
	if (s.len >= 2 && s.ptr[0] == '<' && s.ptr[s.len - 1] == '>')
		s = str_slice(s, 1, s.len - 2);
	return obj_new_stringn(s.ptr, s.len);
}

/* level 0: everything; 1: no options/descriptions; 2: no symbols. */
static struct obj *
symbols_obj(const struct scan_task *task, int level)
{
	struct obj *o = obj_new_object();

	for (const struct scan_symbol *s = task->symbols; s != NULL && level < 2; s = s->next) {
		struct obj *so = obj_new_object(), *opts = obj_new_array();

		put_string(so, "name", s->name);
		obj_object_set(so, "score", obj_new_float(s->score));
		obj_object_set(so, "metric_score", obj_new_float(s->weight));
		for (size_t i = 0; level == 0 && i < s->n_options; i++)
			obj_array_append(opts, obj_new_string(s->options[i]));
		obj_object_set(so, "options", opts);
		if (level == 0 && s->description != NULL)
			put_string(so, "description", s->description);
		obj_object_set(o, s->name, so);
	}
	return o;
}

static struct obj *
row_obj(const struct scan_task *task, int level)
{
	struct obj *o = obj_new_object(), *rcpt = obj_new_array(), *mime_rcpt = obj_new_array();
	const char *action = shared_stats_action_name(
	    (enum stats_action)shared_stats_action_index(task->action));

	obj_object_set(o, "message-id", message_id(task));
	obj_object_set(o, "id", message_id(task));
	put_string(o, "ip", task->env.ip);
	put_string(o, "sender_smtp", task->env.from);
	put_string(o, "sender_mime", mime_sender(task));
	for (size_t i = 0; i < task->env.n_rcpts; i++)
		obj_array_append(rcpt, obj_new_string(task->env.rcpts[i]));
	obj_object_set(o, "rcpt_smtp", rcpt);
	add_addresses(task, "To", mime_rcpt);
	add_addresses(task, "Cc", mime_rcpt);
	obj_object_set(o, "rcpt_mime", mime_rcpt);
	put_string(o, "subject", task->msg != NULL ? task->msg->subject : NULL);
	obj_object_set(o, "score", obj_new_float(task->score));
	obj_object_set(o, "required_score",
	    obj_new_float(task->cfg != NULL ? actions_required_score(&task->cfg->actions) : 0));
	put_string(o, "action", task->skipped ? "no action" : action);
	obj_object_set(o, "symbols", symbols_obj(task, level));
	obj_object_set(o, "unix_time", obj_new_int((int64_t)task->start_real));
	obj_object_set(o, "time_real", obj_new_float(task->time_real));
	obj_object_set(o, "scan_time", obj_new_float(task->time_real));
	obj_object_set(o, "size", obj_new_int((int64_t)task->len));
	put_string(o, "user", task->env.user != NULL ? task->env.user : "unknown");
	obj_object_set(o, "is_skipped", obj_new_bool(task->skipped));
	return o;
}

char *
history_row_json(const struct scan_task *task, size_t max, size_t *len_r)
{
	for (int level = 0; level < 3; level++) {
		struct obj *o = row_obj(task, level);
		struct buf b;
		int rc;

		buf_init(&b, max);
		rc = obj_emit_json(o, &b, false);
		obj_free(&o);
		if (rc == 0 && b.len <= max)
			return buf_steal(&b, len_r);
		buf_deinit(&b);
	}
	return NULL;
}

void
history_add(const struct scan_task *task)
{
	size_t len;
	char *row = history_row_json(task, sizeof(((struct hist_slot *)0)->data), &len);
	struct hist_slot *s;
	uint64_t seq;

	if (row == NULL)
		return;
	if (lock_history(task->cfg) == 0) {
		seq = ++header()->next_seq;
		s = slot_at(seq);
		s->seq = 0;
		memcpy(s->data, row, len);
		s->len = (uint32_t)len;
		s->seq = seq;
		unlock_history();
	}
	free(row);
}

int
history_export(const struct config *cfg, long from, long to, struct buf *out)
{
	long idx = 0;
	bool first = true;
	int rc = 0;

	buf_append_cstr(out, "{\"version\":2,\"rows\":[");
	if (lock_history(cfg) < 0) {
		rc = -1;
	} else {
		uint64_t next = header()->next_seq;
		uint64_t rows = header()->rows;

		for (uint64_t seq = next; seq > 0 && next - seq < rows; seq--) {
			struct hist_slot *s = slot_at(seq);

			if (s->seq != seq || s->len > sizeof(s->data))
				continue;
			if (idx >= from && (to < 0 || idx <= to)) {
				if (!first)
					buf_putc(out, ',');
				buf_append(out, s->data, s->len);
				first = false;
			}
			idx++;
		}
		unlock_history();
	}
	buf_append_cstr(out, "]}");
	return rc;
}
