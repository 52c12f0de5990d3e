/*
 * test_dmarc_report.c - aggregate-report rows in LMDB: counts per source
 * IP and result, domains kept apart (example.com vs example.com.au), days
 * kept apart, JSON listing, missing database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dmarc.h"
#include "core/buf.h"
#include "test.h"

static int
store(const char *dir, const char *date, const char *domain, const char *ip,
    enum dmarc_disposition disp, bool dkim, bool spf)
{
	struct dmarc_report_row row = { date, domain, ip, disp, dkim, spf,
		DMARC_POLICY_REJECT, 100 };
	char *error = NULL;
	int rc = dmarc_report_store(dir, &row, &error);

	if (rc < 0) {
		fprintf(stderr, "store: %s\n", error);
		free(error);
	}
	return rc;
}

static char *
list(const char *dir, const char *date)
{
	struct buf out;
	char *error = NULL;

	buf_init(&out, 0);
	if (dmarc_report_list_json(dir, date, &out, &error) < 0) {
		fprintf(stderr, "list: %s\n", error);
		free(error);
		buf_deinit(&out);
		return NULL;
	}
	return buf_steal(&out, NULL);
}

int
main(void)
{
	char tmpl[] = "/tmp/test_dmarc_report.XXXXXX";
	char *dir = mkdtemp(tmpl), *db, *json, date[9];

	test_begin("dmarc report date");
	dmarc_report_date(0, date);
	test_assert(strcmp(date, "19700101") == 0);
	dmarc_report_date(1700000000, date);
	test_assert(strcmp(date, "20231114") == 0);
	test_end();

	test_begin("dmarc report missing database");
	db = malloc(strlen(dir) + 8);
	memcpy(db, dir, strlen(dir));
	memcpy(db + strlen(dir), "/db", 4);
	json = list(db, "20240101");
	test_assert(json != NULL && strstr(json, "\"domains\": []") != NULL);
	free(json);
	test_assert(access(db, F_OK) != 0);
	test_end();

	test_begin("dmarc report store and list");
	test_assert(store(db, "20240101", "example.com", "192.0.2.1",
	    DMARC_DISP_NONE, true, true) == 0);
	test_assert(store(db, "20240101", "example.com", "192.0.2.1",
	    DMARC_DISP_NONE, true, true) == 0);
	test_assert(store(db, "20240101", "example.com", "192.0.2.9",
	    DMARC_DISP_REJECT, false, false) == 0);
	test_assert(store(db, "20240101", "example.com.au", "2001:db8::1",
	    DMARC_DISP_QUARANTINE, false, true) == 0);
	test_assert(store(db, "20240102", "example.com", "192.0.2.1",
	    DMARC_DISP_NONE, true, true) == 0);
	test_assert(store(db, "20240101", "bad domain", "192.0.2.1",
	    DMARC_DISP_NONE, true, true) < 0);
	json = list(db, "20240101");
	test_assert(json != NULL);
	if (json != NULL) {
		const char *com = strstr(json, "\"example.com\"");
		const char *au = strstr(json, "\"example.com.au\"");
		const char *r1 = strstr(json, "192.0.2.1");
		const char *r9 = strstr(json, "192.0.2.9");
		test_assert(com != NULL && au != NULL && r1 != NULL && r9 != NULL);
		test_assert(com < r1 && r1 < au && r9 < au);
		test_assert(strstr(json, "\"count\": 2") != NULL);
		test_assert(strstr(json, "\"disposition\": \"reject\"") != NULL);
		test_assert(strstr(json, "\"policy\": \"reject\"") != NULL);
		test_assert(strstr(json, "2001:db8::1") != NULL);
	}
	free(json);
	json = list(db, "20240102");
	test_assert(json != NULL && strstr(json, "\"count\": 1") != NULL &&
	    strstr(json, "192.0.2.9") == NULL);
	free(json);
	json = list(db, "20231231");
	test_assert(json != NULL && strstr(json, "\"domains\": []") != NULL);
	free(json);
	test_end();

	dmarc_report_close();
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		test_assert(system(cmd) == 0);
	}
	free(db);
	return test_exit();
}
