/*
 * fuzz_ucl.c - libFuzzer target for the UCL/JSON parser.
 *
 * Each input is parsed as UCL with file macros disabled (no filesystem
 * access) and as JSON. A successful UCL parse is printed back with the
 * config emitter and must parse again: the emitter is what configdump
 * shows, and its output is meant to be valid configuration.
 */
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/obj.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ucl_vars vars;

static void
roundtrip(const struct obj *o)
{
	struct obj *again;
	struct buf out;
	char *err = NULL;

	buf_init(&out, 0);
	if (ucl_emit_config(o, &out) == 0) {
		again = ucl_parse_string(out.data != NULL ? out.data : "", out.len,
		    "<emitted>", NULL, 0, UCL_FLAG_NO_FILES, &err);
		if (again == NULL) {
			fprintf(stderr, "re-parse failed: %s\n---\n%s\n---\n", err,
			    out.data);
			abort();
		}
		obj_free(&again);
	}
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct obj *o;

	if (vars.n == 0) {
		ucl_vars_set(&vars, "CONFDIR", "/etc/rspamd");
		ucl_vars_set(&vars, "X", "$X$X");
	}
	o = ucl_parse_string((const char *)data, size, "<fuzz>", &vars, 0,
	    UCL_FLAG_NO_FILES, &err);
	if (o != NULL) {
		roundtrip(o);
		obj_free(&o);
	} else {
		free(err);
	}
	o = ucl_parse_json((const char *)data, size, &err);
	if (o != NULL)
		obj_free(&o);
	else
		free(err);
	return 0;
}
