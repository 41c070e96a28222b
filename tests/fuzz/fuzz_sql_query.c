/* libFuzzer target: the query/DDL/DML grammar (scheduler/sql_q_*.c) on
 * arbitrary bytes. Any crash, leak, overflow or UB is a finding; a parse
 * must either fail with a "line:col:" message (or a limit) or yield
 * statements whose trees can be copied, compared and freed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scheduler/sql_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct sch_q_expr *e)
{
	struct sch_q_expr *d;
	if (!e)
		return;
	d = sch_q_expr_dup(e);
	if (d && !sch_q_expr_equal(d, e))
		__builtin_trap();
	sch_q_expr_free(d);
	(void)sch_q_expr_has_agg(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sch_q_script sc;
	struct cmn_err err = CMN_ERR_INIT;

	if (sch_q_parse((const char *)data, size, &sc, &err) < 0) {
		if (err.code == CMN_EINVAL && !strchr(err.msg, ':'))
			__builtin_trap(); /* every syntax error names line:col */
		return 0;
	}
	for (size_t i = 0; i < sc.n; i++) {
		const struct sch_q_stmt *s = sc.v[i];
		if (s->kind == 0 || s->line < 1 || s->col < 1)
			__builtin_trap();
		for (size_t q = 0; s->query && q < s->query->n; q++) {
			const struct sch_q_select *sel = s->query->v[q];
			for (size_t k = 0; k < sel->nitems; k++)
				walk(sel->items[k].e);
			walk(sel->where);
			walk(sel->having);
		}
	}
	sch_q_script_free(&sc);
	return 0;
}
