/* libFuzzer target: the SQL lexer, the statement classifier and the parser
 * (scheduler/sql_*.c) on arbitrary bytes. Any crash, leak, overflow or UB is
 * a finding; a parse must either fail with a "line:col:" message or yield a
 * script whose statements all have a kind. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scheduler/sql_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sch_sql_script sc;
	struct sch_sql_classes cls;
	struct cmn_err err = CMN_ERR_INIT;

	(void)sch_sql_classify((const char *)data, size, &cls, &err);
	if (sch_sql_parse((const char *)data, size, &sc, &err) < 0) {
		if (err.code == CMN_EINVAL && !strchr(err.msg, ':'))
			__builtin_trap(); /* every syntax error names line:col */
		return 0;
	}
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i]->kind == 0 || sc.v[i]->line < 1 || sc.v[i]->col < 1)
			__builtin_trap();
	sch_sql_script_free(&sc);
	return 0;
}
