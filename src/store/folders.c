/*
 * folders.c - the folder tree of a Maildir++ mailbox for IMAP LIST,
 * CREATE, DELETE, RENAME, STATUS and (UN)SUBSCRIBE.
 *
 * Folders are the <root>/.<dir> directories; their names come back
 * through mailbox_dir_to_name(), so a directory we could not have
 * created (foreign escapes, "..") is never listed or touched. DELETE
 * renames the directory to a non-folder name first so other sessions
 * see it vanish at once, then removes it.
 */
#include "store/mailbox_private.h"

#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "store/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRNAME_MAX (MAILBOX_NAME_MAX * 3 + 1)

static unsigned long trash_counter;

struct names {
	char **v;
	size_t n;
	size_t cap;
};

static void
names_add(struct names *ns, const char *s)
{
	ns->v = xgrow(ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(s);
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
names_has(const struct names *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++) {
		if (strcmp(ns->v[i], s) == 0)
			return true;
	}
	return false;
}

/* Folder dir names (without the dot) under root, sorted. */
static int
read_folder_dirs(const char *root, struct names *ns)
{
	char name[MAILBOX_NAME_MAX + 1];
	struct dirent *de;
	DIR *d = opendir(root);

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    mailbox_dir_to_name(de->d_name + 1, name, sizeof(name)) < 0)
			continue;
		names_add(ns, de->d_name + 1);
	}
	closedir(d);
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof(*ns->v), str_cmp);
	return 0;
}

unsigned
folders_special_use(const char *name)
{
	static const struct {
		const char *name;
		unsigned attr;
	} su[] = {
		{ "Sent", FOLDER_SENT }, { "Drafts", FOLDER_DRAFTS },
		{ "Junk", FOLDER_JUNK }, { "Trash", FOLDER_TRASH },
		{ "Archive", FOLDER_ARCHIVE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(su); i++) {
		if (strcmp(name, su[i].name) == 0)
			return su[i].attr;
	}
	return 0;
}

/* dir "A.B" has a child when some other dir starts with "A.B.". */
static bool
has_children(const struct names *dirs, const char *dir)
{
	size_t len = strlen(dir);

	for (size_t i = 0; i < dirs->n; i++) {
		if (strncmp(dirs->v[i], dir, len) == 0 && dirs->v[i][len] == '.')
			return true;
	}
	return false;
}

static int
emit(const struct names *dirs, const char *dir, unsigned attrs,
    const struct names *subs, int (*cb)(const char *, unsigned, void *),
    void *ctx)
{
	char name[MAILBOX_NAME_MAX + 1];

	if (mailbox_dir_to_name(dir, name, sizeof(name)) < 0)
		return 0;
	attrs |= has_children(dirs, dir) ? FOLDER_HASCHILDREN : FOLDER_HASNOCHILDREN;
	attrs |= folders_special_use(name);
	if (names_has(subs, name))
		attrs |= FOLDER_SUBSCRIBED;
	return cb(name, attrs, ctx);
}

static int
collect_sub(const char *name, void *ctx)
{
	names_add(ctx, name);
	return 0;
}

int
folders_list(const char *root,
    int (*cb)(const char *name, unsigned attrs, void *ctx), void *ctx,
    const char **error_r)
{
	struct names dirs = { 0 }, subs = { 0 }, done = { 0 };
	int rc = 0;

	if (read_folder_dirs(root, &dirs) < 0)
		return mbx_fail(error_r, "cannot read the mailbox", errno);
	(void)folders_subscriptions(root, collect_sub, &subs, error_r);
	rc = emit(&dirs, "", 0, &subs, cb, ctx);
	for (size_t i = 0; rc == 0 && i < dirs.n; i++) {
		char parent[DIRNAME_MAX];
		const char *p;

		/* Parents without a directory of their own: \Noselect. */
		for (p = strchr(dirs.v[i], '.'); rc == 0 && p != NULL; p = strchr(p + 1, '.')) {
			if ((size_t)(p - dirs.v[i]) >= sizeof(parent))
				break;
			memcpy(parent, dirs.v[i], (size_t)(p - dirs.v[i]));
			parent[p - dirs.v[i]] = '\0';
			if (names_has(&dirs, parent) || names_has(&done, parent))
				continue;
			names_add(&done, parent);
			rc = emit(&dirs, parent, FOLDER_NOSELECT, &subs, cb, ctx);
		}
		if (rc == 0)
			rc = emit(&dirs, dirs.v[i], 0, &subs, cb, ctx);
	}
	names_free(&dirs);
	names_free(&subs);
	names_free(&done);
	return 0;
}

int
folders_create(const char *root, const char *name, const char **error_r)
{
	char dir[DIRNAME_MAX], path[PATH_MAX];
	struct stat st;

	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0)
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	if (maildir_create(root, error_r) < 0)
		return -1;
	if (dir[0] == '\0')
		return mbx_fail(error_r, "mailbox exists", EEXIST);
	if (str_format(path, sizeof(path), "%s/.%s", root, dir) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	if (stat(path, &st) == 0)
		return mbx_fail(error_r, "mailbox exists", EEXIST);
	/* Parents first, so they are real (selectable) folders too. */
	for (char *p = strchr(dir, '.'); p != NULL; p = strchr(p + 1, '.')) {
		*p = '\0';
		if (maildir_folder_create(root, dir, error_r) < 0)
			return -1;
		*p = '.';
	}
	return maildir_folder_create(root, dir, error_r);
}

static int
remove_tree(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	char sub[PATH_MAX];

	if (d == NULL)
		return unlink(path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (str_format(sub, sizeof(sub), "%s/%s", path, de->d_name) >= 0)
			(void)remove_tree(sub);
	}
	closedir(d);
	return rmdir(path);
}

int
folders_delete(const char *root, const char *name, const char **error_r)
{
	char dir[DIRNAME_MAX], path[PATH_MAX], trash[PATH_MAX];

	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0)
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	if (dir[0] == '\0')
		return mbx_fail(error_r, "INBOX cannot be deleted", EPERM);
	if (str_format(path, sizeof(path), "%s/.%s", root, dir) < 0 ||
	    str_format(trash, sizeof(trash), "%s/rsm-deleted.%ld.%lu", root,
	    (long)getpid(), ++trash_counter) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	if (rename(path, trash) < 0)
		return mbx_fail(error_r, errno == ENOENT ? "no such mailbox" :
		    "cannot delete the mailbox", errno);
	(void)remove_tree(trash);
	return 0;
}

/* INBOX rename: its messages move to the new folder; INBOX stays. */
static int
rename_inbox(const char *root, const char *newname, const char *ndir,
    const char **error_r)
{
	static const char *const subs[] = { "cur", "new" };
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;

	if (folders_create(root, newname, error_r) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		DIR *d;

		if (str_format(from, sizeof(from), "%s/%s", root, subs[i]) < 0 ||
		    (d = opendir(from)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    str_format(from, sizeof(from), "%s/%s/%s", root, subs[i], de->d_name) < 0 ||
			    str_format(to, sizeof(to), "%s/.%s/%s/%s", root, ndir, subs[i], de->d_name) < 0)
				continue;
			(void)rename(from, to);
		}
		closedir(d);
	}
	return 0;
}

int
folders_rename(const char *root, const char *oldname, const char *newname,
    const char **error_r)
{
	char odir[DIRNAME_MAX], ndir[DIRNAME_MAX], from[PATH_MAX], to[PATH_MAX];
	struct names dirs = { 0 };
	size_t olen, i;
	struct stat st;
	int rc = 0;

	if (mailbox_name_to_dir(oldname, odir, sizeof(odir)) < 0 ||
	    mailbox_name_to_dir(newname, ndir, sizeof(ndir)) < 0)
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	if (ndir[0] == '\0' || (str_format(to, sizeof(to), "%s/.%s", root, ndir) >= 0 &&
	    stat(to, &st) == 0))
		return mbx_fail(error_r, "target mailbox exists", EEXIST);
	if (odir[0] == '\0')
		return rename_inbox(root, newname, ndir, error_r);
	if (read_folder_dirs(root, &dirs) < 0)
		return mbx_fail(error_r, "cannot read the mailbox", errno);
	if (!names_has(&dirs, odir)) {
		names_free(&dirs);
		return mbx_fail(error_r, "no such mailbox", ENOENT);
	}
	olen = strlen(odir);
	for (i = 0; rc == 0 && i < dirs.n; i++) {
		const char *d = dirs.v[i];

		if (strncmp(d, odir, olen) != 0 || (d[olen] != '\0' && d[olen] != '.'))
			continue;
		if (str_format(from, sizeof(from), "%s/.%s", root, d) < 0 ||
		    str_format(to, sizeof(to), "%s/.%s%s", root, ndir, d + olen) < 0)
			rc = mbx_fail(error_r, "path too long", ENAMETOOLONG);
		else if (stat(to, &st) == 0)
			rc = mbx_fail(error_r, "target mailbox exists", EEXIST);
		else if (rename(from, to) < 0)
			rc = mbx_fail(error_r, "cannot rename the mailbox", errno);
	}
	names_free(&dirs);
	return rc;
}

int
folders_status(const char *root, const char *name,
    struct mailbox_status *st_r, const char **error_r)
{
	struct mailbox *mb;

	if (mailbox_open(root, name, MAILBOX_RDONLY, &mb, error_r) < 0)
		return -1;
	mailbox_get_status(mb, st_r);
	mailbox_close(mb);
	return 0;
}

int
folders_subscriptions(const char *root,
    int (*cb)(const char *name, void *ctx), void *ctx, const char **error_r)
{
	char path[PATH_MAX], line[MAILBOX_NAME_MAX + 2];
	FILE *f;

	if (str_format(path, sizeof(path), "%s/subscriptions", root) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : mbx_fail(error_r, "cannot read subscriptions", errno);
	while (fgets(line, sizeof(line), f) != NULL) {
		char norm[MAILBOX_NAME_MAX + 1];

		line[strcspn(line, "\r\n")] = '\0';
		if (mbx_name_normalize(line, norm, sizeof(norm)) < 0)
			continue;
		if (cb(norm, ctx) != 0)
			break;
	}
	fclose(f);
	return 0;
}

int
folders_subscribe(const char *root, const char *name, bool subscribe,
    const char **error_r)
{
	char norm[MAILBOX_NAME_MAX + 1], path[PATH_MAX], tmp[PATH_MAX];
	struct names subs = { 0 };
	FILE *f;
	int rc = 0;

	if (mbx_name_normalize(name, norm, sizeof(norm)) < 0)
		return mbx_fail(error_r, "invalid mailbox name", EINVAL);
	if (str_format(path, sizeof(path), "%s/subscriptions", root) < 0 ||
	    str_format(tmp, sizeof(tmp), "%s/subscriptions.%ld.tmp", root, (long)getpid()) < 0)
		return mbx_fail(error_r, "path too long", ENAMETOOLONG);
	if (folders_subscriptions(root, collect_sub, &subs, error_r) < 0)
		return -1;
	f = fopen(tmp, "we");
	if (f == NULL) {
		names_free(&subs);
		return mbx_fail(error_r, "cannot write subscriptions", errno);
	}
	for (size_t i = 0; i < subs.n; i++) {
		if (strcmp(subs.v[i], norm) != 0)
			fprintf(f, "%s\n", subs.v[i]);
	}
	if (subscribe)
		fprintf(f, "%s\n", norm);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0 || rc < 0 || rename(tmp, path) < 0) {
		(void)unlink(tmp);
		rc = mbx_fail(error_r, "cannot write subscriptions", errno);
	}
	names_free(&subs);
	return rc;
}
