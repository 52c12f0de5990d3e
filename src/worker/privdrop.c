/*
 * privdrop.c - choosing the unprivileged run user, handing it the state
 * dir, and switching a forked worker to it.
 *
 * Why workers and not the main process: the main process must be able to
 * bind privileged ports again on SIGHUP, and it never parses network input,
 * so it keeps root; everything that talks to clients runs as the run user.
 * Files the main process writes as root under the state dir (LMDB and
 * SQLite files opened while building the engine, the log, the pid file)
 * are chowned before every generation of workers is forked, so a worker
 * can write them and a later run (as root or as the user) can read them.
 */
#include "worker/privdrop.h"
#include "config/config.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maildir++ is domain/user/.folder/cur: far below this. */
#define PRIVDROP_MAX_DEPTH 16

static int
plan_from_options(const struct obj *opts, struct privdrop *pd, char **error_r)
{
	const char *user = obj_get_string(obj_lookup(opts, "user"));
	const char *group = obj_get_string(obj_lookup(opts, "group"));
	const struct passwd *pw;
	const struct group *gr;

	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = xasprintf("options.user: no such user \"%s\"", user);
		return -1;
	}
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	if (group != NULL) {
		gr = getgrnam(group);
		if (gr == NULL) {
			*error_r = xasprintf("options.group: no such group \"%s\"", group);
			return -1;
		}
		pd->gid = gr->gr_gid;
	}
	str_lcpy(pd->name, user, sizeof(pd->name));
	return 0;
}

static void
plan_from_state_dir(const char *state_dir, struct privdrop *pd)
{
	const struct passwd *pw;
	struct stat st;

	if (state_dir == NULL || stat(state_dir, &st) < 0 || st.st_uid == 0)
		return;
	pd->uid = st.st_uid;
	pw = getpwuid(st.st_uid);
	/* The user's primary group when it has a passwd entry, else the dir's. */
	pd->gid = pw != NULL ? pw->pw_gid : st.st_gid;
	if (pw != NULL)
		str_lcpy(pd->name, pw->pw_name, sizeof(pd->name));
	else
		(void)str_format(pd->name, sizeof(pd->name), "uid %u", (unsigned)st.st_uid);
	pd->active = true;
}

int
privdrop_plan(const struct config *cfg, struct privdrop *pd_r, char **error_r)
{
	const struct obj *opts = obj_lookup(cfg->root, "options");

	memset(pd_r, 0, sizeof(*pd_r));
	if (geteuid() != 0)
		return 0;
	if (obj_get_string(obj_lookup(opts, "user")) != NULL) {
		if (plan_from_options(opts, pd_r, error_r) < 0)
			return -1;
		/* user = "root" means: stay root, knowingly. */
		pd_r->active = pd_r->uid != 0;
		return 0;
	}
	plan_from_state_dir(cfg->state_dir, pd_r);
	if (!pd_r->active)
		log_warn("main", NULL, "running as root and workers stay root: set options.user "
		    "or chown the state dir to an unprivileged user");
	return 0;
}

/*
 * The tree is writable by the run user, who may have planted symlinks or
 * hard links to root's files, or swap a directory for a symlink while we
 * walk: so the walk goes by directory fds (openat with O_NOFOLLOW, never a
 * path), changes entries with AT_SYMLINK_NOFOLLOW, and leaves alone any
 * non-directory with more than one link (a hard link to /etc/shadow must
 * not become the user's).
 */
/*
 * How deep to go below a top-level entry. The mailboxes and the queue
 * files are written by the workers, as the run user already; walking
 * millions of messages at every start and reload would only cost time.
 * The entries directly in mail/ and spool/ (domains; the queue
 * directories, which `rspamadm queue` run as root may have created) are
 * handed over, not what lies below them.
 */
static unsigned
subtree_depth(unsigned depth, const char *name, unsigned max_depth)
{
	if (depth != 0)
		return max_depth;
	if (strcmp(name, "mail") == 0 || strcmp(name, "spool") == 0)
		return 1;
	return max_depth;
}

static int
chown_tree(int dirfd, const struct privdrop *pd, unsigned depth, unsigned max_depth,
    char **error_r)
{
	DIR *d;
	const struct dirent *de;
	int rc = 0;

	d = fdopendir(dirfd);
	if (d == NULL) {
		close(dirfd);
		*error_r = xasprintf("cannot read a state directory: %s", strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		int fd;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (st.st_uid == 0 && (S_ISDIR(st.st_mode) || st.st_nlink == 1) &&
		    fchownat(dirfd, de->d_name, pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			*error_r = xasprintf("cannot chown %s to %s: %s", de->d_name, pd->name,
			    strerror(errno));
			rc = -1;
		}
		if (rc == 0 && S_ISDIR(st.st_mode) && depth < max_depth) {
			fd = openat(dirfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				rc = chown_tree(fd, pd, depth + 1, subtree_depth(depth, de->d_name,
				    max_depth), error_r);
		}
	}
	closedir(d);
	return rc;
}

int
privdrop_prepare_state(const struct privdrop *pd, const char *state_dir, char **error_r)
{
	struct stat st;
	int fd;

	if (!pd->active || state_dir == NULL)
		return 0;
	fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*error_r = xasprintf("cannot open %s: %s", state_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_uid == 0 && fchown(fd, pd->uid, pd->gid) < 0) {
		*error_r = xasprintf("cannot chown %s to %s: %s", state_dir, pd->name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return chown_tree(fd, pd, 0, PRIVDROP_MAX_DEPTH, error_r);
}

int
privdrop_apply(const struct privdrop *pd, char **error_r)
{
	if (!pd->active)
		return 0;
	/* Groups first: after setuid() we could no longer change them. */
	if (setgroups(0, NULL) < 0 || setgid(pd->gid) < 0 || setuid(pd->uid) < 0) {
		*error_r = xasprintf("cannot switch to %s (uid %u, gid %u): %s", pd->name,
		    (unsigned)pd->uid, (unsigned)pd->gid, strerror(errno));
		return -1;
	}
	/* A saved set-user-ID of 0 would let an exploit switch back. */
	if (setuid(0) == 0 || getuid() != pd->uid || geteuid() != pd->uid ||
	    getgid() != pd->gid || getegid() != pd->gid) {
		*error_r = xasprintf("privileges not dropped to %s", pd->name);
		return -1;
	}
	return 0;
}
