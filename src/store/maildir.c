/*
 * maildir.c - durable delivery into Maildir++ mailboxes and creation of
 * mailboxes and folders on first use.
 *
 * The durability protocol is the one DESIGN.md section 5 relies on for
 * "remove from the queue only after delivery": write tmp/<name>, fsync
 * it, link it to new/<name>, fsync new/, then drop the tmp/ name. A crash
 * before the new/ fsync leaves at worst a stray tmp/ file (Maildir readers
 * ignore tmp/) and the queue keeps the message, so it is delivered again;
 * never lost. link(2) rather than rename(2) because link refuses to
 * replace an existing name, so a unique-name collision cannot overwrite a
 * delivered message.
 *
 * Directories we create are fsynced into their parents, so a mailbox
 * created by a delivery survives the same crash its message does.
 *
 * Runs in the deliver (qmgr) process; also used by IMAP APPEND later.
 */
#include "store/maildir.h"

#include "core/common.h"
#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAILDIR_DIR_MODE 0700
#define MAILDIR_FILE_MODE 0600
#define COPY_CHUNK 65536
#define NAME_ATTEMPTS 16

const char *const maildir_std_folders[4] = { "Sent", "Drafts", "Junk", "Trash" };

static unsigned long delivery_counter;

static int
fail(const char **error_r, const char *reason, int err)
{
	*error_r = reason;
	errno = err;
	return -1;
}

static int
fsync_path_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (rc < 0 && errno == EINVAL)
		rc = 0; /* file systems that cannot fsync directories */
	close(fd);
	return rc;
}

/* fsync the directory that contains `path`. */
static int
fsync_parent(const char *path)
{
	char parent[PATH_MAX];
	char *slash;

	if (str_lcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		return -1;
	slash = strrchr(parent, '/');
	if (slash == NULL)
		return fsync_path_dir(".");
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return fsync_path_dir(parent);
}

/* mkdir that is fine with an existing directory and fsyncs new entries. */
static int
make_dir(const char *path)
{
	if (mkdir(path, MAILDIR_DIR_MODE) < 0)
		return errno == EEXIST ? 0 : -1;
	return fsync_parent(path);
}

static int
make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t i;

	if (str_lcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 1; buf[i] != '\0'; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (make_dir(buf) < 0)
			return -1;
		buf[i] = '/';
	}
	return make_dir(buf);
}

static int
path_join(char *out, size_t size, const char *a, const char *b)
{
	return str_format(out, size, "%s/%s", a, b) < 0 ? -1 : 0;
}

/* dir/{cur,new,tmp}, plus the maildirfolder marker for folders. */
static int
make_maildir_dirs(const char *dir, bool is_folder)
{
	static const char *const subs[] = { "tmp", "cur", "new" };
	char path[PATH_MAX];
	size_t i;
	int fd;

	if (make_dir(dir) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(subs); i++) {
		if (path_join(path, sizeof(path), dir, subs[i]) < 0 ||
		    make_dir(path) < 0)
			return -1;
	}
	if (!is_folder)
		return 0;
	if (path_join(path, sizeof(path), dir, "maildirfolder") < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, MAILDIR_FILE_MODE);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int
folder_dir(char *out, size_t size, const char *root, const char *folder)
{
	if (folder == NULL || folder[0] == '\0')
		return str_lcpy(out, root, size) >= size ? -1 : 0;
	return str_format(out, size, "%s/.%s", root, folder) < 0 ? -1 : 0;
}

bool
maildir_folder_valid(const char *folder)
{
	size_t i, len = strlen(folder);

	if (len == 0 || len > 255 || folder[0] == '.' || folder[len - 1] == '.' ||
	    strstr(folder, "..") != NULL || strcmp(folder, "cur") == 0 ||
	    strcmp(folder, "new") == 0 || strcmp(folder, "tmp") == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)folder[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int
maildir_folder_create(const char *root, const char *folder,
    const char **error_r)
{
	char dir[PATH_MAX];

	if (!maildir_folder_valid(folder))
		return fail(error_r, "invalid folder name", EINVAL);
	if (folder_dir(dir, sizeof(dir), root, folder) < 0)
		return fail(error_r, "folder path too long", ENAMETOOLONG);
	if (make_maildir_dirs(dir, true) < 0)
		return fail(error_r, "cannot create folder", errno);
	return 0;
}

/* Written to a temp name and renamed, so readers never see half of it. */
static int
write_subscriptions(const char *root)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	size_t i;
	int ok;

	if (path_join(path, sizeof(path), root, "subscriptions") < 0 ||
	    path_join(tmp, sizeof(tmp), root, "tmp/subscriptions.new") < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	for (i = 0; i < ARRAY_SIZE(maildir_std_folders); i++)
		fprintf(f, "%s\n", maildir_std_folders[i]);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		(void)unlink(tmp);
		return -1;
	}
	return fsync_path_dir(root);
}

int
maildir_create(const char *root, const char **error_r)
{
	size_t i;

	if (make_dirs(root) < 0 || make_maildir_dirs(root, false) < 0)
		return fail(error_r, "cannot create mailbox", errno);
	for (i = 0; i < ARRAY_SIZE(maildir_std_folders); i++) {
		if (maildir_folder_create(root, maildir_std_folders[i], error_r) < 0)
			return -1;
	}
	if (write_subscriptions(root) < 0)
		return fail(error_r, "cannot write subscriptions", errno);
	return 0;
}

/* Makes sure the mailbox and the target folder exist; dir_r gets the
 * folder's directory. */
static int
prepare_target(const struct maildir_target *t, char *dir_r, size_t size,
    const char **error_r)
{
	char path[PATH_MAX];
	bool inbox = t->folder == NULL || t->folder[0] == '\0';

	if (!inbox && !maildir_folder_valid(t->folder))
		return fail(error_r, "invalid folder name", EINVAL);
	if (path_join(path, sizeof(path), t->root, "new") < 0 ||
	    folder_dir(dir_r, size, t->root, t->folder) < 0)
		return fail(error_r, "mailbox path too long", ENAMETOOLONG);
	if (access(path, F_OK) < 0 && maildir_create(t->root, error_r) < 0)
		return -1;
	if (!inbox && path_join(path, sizeof(path), dir_r, "new") == 0 &&
	    access(path, F_OK) < 0)
		return maildir_folder_create(t->root, t->folder, error_r);
	return 0;
}

/* Host name with '/' and ':' escaped the way Maildir readers expect. */
static const char *
host_name(void)
{
	static char host[128];
	char raw[64];
	size_t i, o = 0;

	if (host[0] != '\0')
		return host;
	if (gethostname(raw, sizeof(raw)) < 0)
		str_lcpy(raw, "localhost", sizeof(raw));
	raw[sizeof(raw) - 1] = '\0';
	for (i = 0; raw[i] != '\0' && o + 5 < sizeof(host); i++) {
		if (raw[i] == '/' || raw[i] == ':') {
			int n = str_format(host + o, sizeof(host) - o, "\\%03o",
			    (unsigned char)raw[i]);

			if (n < 0)
				break;
			o += (size_t)n;
		} else {
			host[o++] = raw[i];
		}
	}
	host[o] = '\0';
	return host;
}

static int
unique_name(char *out, size_t size, uint64_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return str_format(out, size, "%lld.M%06ldP%ldQ%lu.%s,S=%llu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    ++delivery_counter, host_name(), (unsigned long long)len) < 0 ? -1 : 0;
}

/*
 * Delivery.
 */

struct source {
	const void *data; /* NULL: copy from fd */
	int fd;
	off_t offset;
	uint64_t len;
};

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
copy_from_fd(int out, const struct source *src)
{
	char buf[COPY_CHUNK];
	loff_t off = src->offset;
	uint64_t left = src->len;

	while (left > 0) {
		ssize_t n = copy_file_range(src->fd, &off, out, NULL,
		    (size_t)MIN(left, (uint64_t)1 << 30), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* unsupported here, or short source: fall back */
		left -= (uint64_t)n;
	}
	while (left > 0) {
		ssize_t n = pread(src->fd, buf, (size_t)MIN(left, sizeof(buf)), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the source is shorter than promised */
			return -1;
		}
		if (write_all(out, buf, (size_t)n) < 0)
			return -1;
		off += n;
		left -= (uint64_t)n;
	}
	return 0;
}

/* Creates dir/tmp/<unique> with the message in it, fsynced. */
static int
write_tmp(const char *dir, const struct source *src, char *name,
    char *tmp, const char **error_r)
{
	int attempt, fd = -1, rc;

	for (attempt = 0; attempt < NAME_ATTEMPTS && fd < 0; attempt++) {
		char sub[MAILDIR_NAME_SIZE + 8];

		if (unique_name(name, MAILDIR_NAME_SIZE, src->len) < 0 ||
		    str_format(sub, sizeof(sub), "tmp/%s", name) < 0 ||
		    path_join(tmp, PATH_MAX, dir, sub) < 0)
			return fail(error_r, "mailbox path too long", ENAMETOOLONG);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    MAILDIR_FILE_MODE);
		if (fd < 0 && errno != EEXIST)
			return fail(error_r, "cannot create file in tmp/", errno);
	}
	if (fd < 0)
		return fail(error_r, "no unique name in tmp/", EEXIST);
	if (src->data != NULL)
		rc = write_all(fd, src->data, (size_t)src->len);
	else
		rc = copy_from_fd(fd, src);
	if (rc == 0)
		rc = fsync(fd);
	if (rc < 0) {
		int err = errno;

		close(fd);
		(void)unlink(tmp);
		return fail(error_r, "cannot write message", err);
	}
	if (close(fd) < 0) {
		int err = errno;

		(void)unlink(tmp);
		return fail(error_r, "cannot write message", err);
	}
	return 0;
}

/* link tmp/<name> to new/<name>, choosing a fresh name on collision. */
static int
link_new(const char *dir, const char *tmp, char *name, uint64_t len,
    const char **error_r)
{
	char path[PATH_MAX], sub[MAILDIR_NAME_SIZE + 8];
	int attempt;

	for (attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
		if (attempt > 0 && unique_name(name, MAILDIR_NAME_SIZE, len) < 0)
			break;
		if (str_format(sub, sizeof(sub), "new/%s", name) < 0 ||
		    path_join(path, sizeof(path), dir, sub) < 0)
			break;
		if (link(tmp, path) == 0)
			return 0;
		if (errno != EEXIST)
			return fail(error_r, "cannot link into new/", errno);
	}
	return fail(error_r, "no unique name in new/", EEXIST);
}

static int
deliver(const struct maildir_target *t, const struct source *src,
    char *name_r, size_t name_size, const char **error_r)
{
	char dir[PATH_MAX], tmp[PATH_MAX], newdir[PATH_MAX];
	char name[MAILDIR_NAME_SIZE];

	if (prepare_target(t, dir, sizeof(dir), error_r) < 0 ||
	    write_tmp(dir, src, name, tmp, error_r) < 0)
		return -1;
	if (link_new(dir, tmp, name, src->len, error_r) < 0) {
		int err = errno;

		(void)unlink(tmp);
		errno = err;
		return -1;
	}
	(void)unlink(tmp);
	if (!t->defer_new_sync && (path_join(newdir, sizeof(newdir), dir, "new") < 0 ||
	    fsync_path_dir(newdir) < 0))
		return fail(error_r, "cannot fsync new/", errno);
	if (name_r != NULL && str_lcpy(name_r, name, name_size) >= name_size)
		return fail(error_r, "name buffer too small", ERANGE);
	return 0;
}

int
maildir_sync_new(const struct maildir_target *t, const char **error_r)
{
	char dir[PATH_MAX], newdir[PATH_MAX];

	if (prepare_target(t, dir, sizeof(dir), error_r) < 0)
		return -1;
	if (path_join(newdir, sizeof(newdir), dir, "new") < 0 || fsync_path_dir(newdir) < 0)
		return fail(error_r, "cannot fsync new/", errno);
	return 0;
}

int
maildir_deliver(const struct maildir_target *t, const void *data,
    size_t len, char *name_r, size_t name_size, const char **error_r)
{
	struct source src = { data != NULL ? data : "", -1, 0, len };

	return deliver(t, &src, name_r, name_size, error_r);
}

int
maildir_deliver_fd(const struct maildir_target *t, int fd, off_t offset,
    uint64_t len, char *name_r, size_t name_size, const char **error_r)
{
	struct source src = { NULL, fd, offset, len };

	return deliver(t, &src, name_r, name_size, error_r);
}

/*
 * mail_location expansion.
 */

bool
maildir_component_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 255 || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
		if (c == '.' && i + 1 < len && s[i + 1] == '.')
			return false;
	}
	return true;
}

struct user_parts {
	char user[512];  /* local@domain, domain lowercased */
	char lower[512]; /* all lowercased */
	size_t local_len;
	bool has_domain;
};

static int
split_user(const char *user, struct user_parts *u)
{
	const char *at = strrchr(user, '@');
	size_t i, len = strlen(user);

	if (len == 0 || len >= sizeof(u->user))
		return -1;
	u->has_domain = at != NULL;
	u->local_len = at != NULL ? (size_t)(at - user) : len;
	for (i = 0; i <= len; i++) {
		u->lower[i] = ascii_tolower(user[i]);
		u->user[i] = i > u->local_len ? u->lower[i] : user[i];
	}
	return 0;
}

/* The view a %-code stands for; -1 for an unknown code. */
static int
expand_code(const struct user_parts *u, bool lower, char code,
    struct str *out_r)
{
	const char *base = lower ? u->lower : u->user;
	size_t len = strlen(base);

	switch (code) {
	case 'u':
		*out_r = str_make(base, len);
		return 0;
	case 'n':
		*out_r = str_make(base, u->local_len);
		return 0;
	case 'd':
		if (!u->has_domain)
			*out_r = STR_NULL;
		else
			*out_r = str_make(u->lower + u->local_len + 1,
			    len - u->local_len - 1);
		return 0;
	default:
		return -1;
	}
}

static int
append_bytes(char *out, size_t size, size_t *pos, const char *p, size_t n)
{
	if (n >= size - *pos)
		return -1;
	memcpy(out + *pos, p, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

static int
expand(const char *location, const char *user, char *out, size_t out_size,
    const char **error_r)
{
	struct user_parts u;
	const char *p = location, *end;
	size_t pos = 0;

	if (strncmp(p, "maildir:", 8) == 0)
		p += 8;
	end = strchr(p, ':');
	if (end == NULL)
		end = p + strlen(p);
	if (p == end || split_user(user, &u) < 0)
		return fail(error_r, "empty location or user", EINVAL);
	while (p < end) {
		struct str val;
		bool lower = false;

		if (*p != '%') {
			if (append_bytes(out, out_size, &pos, p++, 1) < 0)
				return fail(error_r, "path too long", ENAMETOOLONG);
			continue;
		}
		p++;
		if (p < end && *p == '%') {
			val = STR_LIT("%");
		} else {
			if (p < end && *p == 'L') {
				lower = true;
				p++;
			}
			if (p >= end || expand_code(&u, lower, *p, &val) < 0)
				return fail(error_r, "unknown %-code in mail_location", EINVAL);
			if (!maildir_component_valid(val.ptr, val.len))
				return fail(error_r, "unsafe user name for a path", EINVAL);
		}
		p++;
		if (append_bytes(out, out_size, &pos, val.ptr, val.len) < 0)
			return fail(error_r, "path too long", ENAMETOOLONG);
	}
	return 0;
}

int
maildir_path_expand(const char *location, const char *user, char *out,
    size_t out_size, const char **error_r)
{
	if (out_size == 0)
		return fail(error_r, "no room", ERANGE);
	out[0] = '\0';
	if (expand(location, user, out, out_size, error_r) < 0) {
		out[0] = '\0'; /* a half-expanded path must not be used */
		return -1;
	}
	return 0;
}
