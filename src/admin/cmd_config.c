/*
 * cmd_config.c - `rspamadm configtest` and `rspamadm configdump`: load the
 * configuration exactly as the daemon would and either report the first
 * error or print the merged tree.
 */
#include "admin/admin.h"
#include "config/config.h"
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *
admin_default_conf(void)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			/* <repo>/build-x/bin/rspamadm -> <repo>/conf */
			if (str_format(cand, sizeof(cand), "%s/../../conf/rspamd.conf",
			    exe) >= 0 && access(cand, R_OK) == 0 &&
			    (slash = realpath(cand, NULL)) != NULL)
				return slash;
		}
	}
	return xstrdup("/etc/rspamd/rspamd.conf");
}

static int
load(const struct admin_ctx *ctx, struct config **cfg_r)
{
	char *error = NULL;

	if (config_load(ctx->conf_path, ctx->state_dir, cfg_r, &error) < 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load config");
		free(error);
		return -1;
	}
	return 0;
}

int
admin_cmd_configtest(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct config *cfg;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: %s configtest\n", ctx->progname);
		return 1;
	}
	if (load(ctx, &cfg) < 0) {
		printf("syntax error\n");
		return 1;
	}
	config_unref(&cfg);
	printf("syntax OK\n");
	return 0;
}

static int
dump_one(const struct obj *o, const char *name, bool json, struct buf *out)
{
	int r = 0;

	if (json) {
		r |= obj_emit_json(o, out, true);
		return r | buf_putc(out, '\n');
	}
	if (name != NULL) {
		/* print it under its name, indented like the full dump */
		struct obj *wrap = obj_new_object();

		obj_object_append(wrap, name, obj_copy(o));
		r = ucl_emit_config(wrap, out);
		obj_free(&wrap);
		return r;
	}
	return ucl_emit_config(o, out);
}

int
admin_cmd_configdump(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct config *cfg;
	struct buf out;
	bool json = false;
	int i = 1, status = 0;

	if (i < argc && strcmp(argv[i], "-j") == 0) {
		json = true;
		i++;
	}
	if (load(ctx, &cfg) < 0)
		return 1;
	buf_init(&out, 0);
	if (i >= argc)
		(void)dump_one(cfg->root, NULL, json, &out);
	for (; i < argc; i++) {
		const struct obj *o = obj_lookup_path(cfg->root, argv[i]);

		if (o == NULL) {
			fprintf(stderr, "no section '%s'\n", argv[i]);
			status = 1;
			continue;
		}
		(void)dump_one(o, argv[i], json, &out);
	}
	if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
		status = 1;
	buf_deinit(&out);
	config_unref(&cfg);
	return status;
}
