/*
 * settings_store.c - atomic writes of the site's local.d/ files for the
 * controller's /saveactions, /savesymbols and /savemap, a configuration
 * check before they take effect, and the reload request.
 *
 * The reload is the supervisor's SIGHUP: it loads the configuration
 * again, starts a new generation of workers on the same sockets and lets
 * the old ones finish in-flight requests, so no connection is dropped and
 * this controller's own reply still goes out. The signal is sent from a
 * short timer so the reply is already written when it arrives.
 */
#include "worker/settings_store.h"
#include "config/config.h"
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SETTINGS_FILE_MAX (16 * 1024 * 1024)
#define SETTINGS_RELOAD_DELAY 0.2

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void
fsync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	str_lcpy(copy, path, sizeof(copy));
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
settings_store_write(const char *path, const char *data, size_t len, char **error_r)
{
	char tmp[PATH_MAX];
	struct stat st;
	mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0640;
	int fd, rc;

	if (str_format(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) < 0) {
		*error_r = xasprintf("%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		*error_r = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = write_all(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0) {
		*error_r = xasprintf("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	fsync_dir(path);
	return 0;
}

/* Whole file into a heap buffer; NULL with errno (ENOENT when missing). */
static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b, SETTINGS_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			fclose(f);
			buf_deinit(&b);
			errno = EFBIG;
			return NULL;
		}
	}
	fclose(f);
	buf_putc(&b, '\0');
	*len_r = b.len - 1;
	return buf_steal(&b, &n);
}

struct obj *
settings_store_load(const char *path, char **error_r)
{
	size_t len = 0;
	char *data = read_file(path, &len);
	struct obj *o;

	if (data == NULL) {
		if (errno == ENOENT)
			return obj_new_object();
		*error_r = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	o = ucl_parse_string(data, len, path, NULL, 0, UCL_FLAG_NO_FILES, error_r);
	free(data);
	if (o != NULL && o->type != OBJ_OBJECT) {
		obj_free(&o);
		*error_r = xasprintf("%s: not a section body", path);
	}
	return o;
}

char *
settings_store_local_path(const struct config *cfg, const char *name)
{
	return xasprintf("%s/local.d/%s", cfg->local_confdir != NULL ? cfg->local_confdir :
	    cfg->confdir, name);
}

/* Loads the whole configuration as the next reload will. */
static int
config_check(const struct config *cfg, char **error_r)
{
	struct config *test = NULL;

	if (config_load(cfg->path, cfg->state_dir, &test, error_r) < 0)
		return -1;
	config_unref(&test);
	return 0;
}

int
settings_store_save_local(const struct config *cfg, const char *name, const struct obj *o,
    char **error_r)
{
	char *path = settings_store_local_path(cfg, name), *old;
	size_t old_len = 0;
	struct buf b;
	int rc;

	old = read_file(path, &old_len);
	buf_init(&b, 0);
	buf_printf(&b, "# %s - written by the web interface (controller); edits here are\n"
	    "# kept, but comments are not when the interface saves again.\n\n", name);
	rc = ucl_emit_config(o, &b);
	if (rc == 0)
		rc = settings_store_write(path, b.data, b.len, error_r);
	else
		*error_r = xasprintf("%s: cannot encode", name);
	if (rc == 0 && config_check(cfg, error_r) < 0) {
		char *ignored = NULL;

		log_warn("controller", NULL, "%s broke the configuration (%s); restored", path,
		    *error_r);
		if (old != NULL)
			(void)settings_store_write(path, old, old_len, &ignored);
		else
			unlink(path);
		free(ignored);
		rc = -1;
	}
	buf_deinit(&b);
	free(old);
	free(path);
	return rc;
}

static void
reload_now(int revents, void *arg)
{
	pid_t parent = getppid();

	UNUSED(revents);
	UNUSED(arg);
	if (parent <= 1) {
		log_warn("controller", NULL, "no supervisor to reload the configuration");
		return;
	}
	log_notice("controller", NULL, "settings changed: asking the main process (%d) to reload",
	    (int)parent);
	if (kill(parent, SIGHUP) < 0)
		log_error("controller", NULL, "cannot signal the main process: %s", strerror(errno));
}

void
settings_store_request_reload(struct ev_loop *loop)
{
	ev_once(loop, -1, 0, SETTINGS_RELOAD_DELAY, reload_now, NULL);
}
