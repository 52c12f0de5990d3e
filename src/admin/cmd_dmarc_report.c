/*
 * cmd_dmarc_report.c - `rspamadm dmarc_report [YYYYMMDD]`: prints the
 * aggregate-report data the DMARC rule stored for one day (default:
 * today, UTC) as JSON, one object per From domain with its published
 * policy and a row per source IP and evaluated result.
 *
 * The data sits in <dbdir>/dmarc_reports.lmdb of the configuration given
 * with -c/--state-dir; turning the rows into RFC 7489 XML reports and
 * mailing them to rua= addresses is left to a later step.
 */
#include "admin/admin.h"
#include "auth/dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/buf.h"

static bool
valid_date(const char *s)
{
	if (strlen(s) != 8)
		return false;
	for (size_t i = 0; i < 8; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int
admin_cmd_dmarc_report(const struct admin_ctx *ctx, int argc, char **argv)
{
	struct config *cfg = NULL;
	char today[9], *error = NULL;
	const char *date;
	struct buf out;
	int rc;

	if (argc > 2 || (argc == 2 && !valid_date(argv[1]))) {
		fprintf(stderr, "usage: rspamadm dmarc_report [YYYYMMDD]\n");
		return 1;
	}
	dmarc_report_date((long long)time(NULL), today);
	date = argc == 2 ? argv[1] : today;
	if (config_load(ctx->conf_path, ctx->state_dir, &cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load config");
		free(error);
		return 1;
	}
	buf_init(&out, 0);
	rc = dmarc_report_list_json(cfg->dbdir, date, &out, &error);
	if (rc < 0) {
		fprintf(stderr, "dmarc_report: %s\n", error);
		free(error);
	} else {
		fwrite(out.data, 1, out.len, stdout);
		fputc('\n', stdout);
	}
	buf_deinit(&out);
	dmarc_report_close();
	config_unref(&cfg);
	return rc < 0 ? 1 : 0;
}
