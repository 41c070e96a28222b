/* runtime/vtab_stream.c — which inputs a statement scans exactly once.
 *
 * SQLite may run a virtual table's xFilter many times (the inner side of a
 * join, a correlated subquery), so by default an input keeps every frame.
 * Most MAP statements scan their input once; for those, keeping the frames
 * would make a node's memory grow with its slice. The decision reads the
 * statement's own bytecode (EXPLAIN): an input streams when exactly one
 * cursor is opened on it, that cursor has exactly one VFilter at address A,
 * no static backward jump (a loop) goes from after A to A or before, and A
 * is not inside a subroutine (Gosub/BeginSubrtn ... Return), which could be
 * called again. The Init trampoline (the block Init jumps to, which runs
 * once and jumps back to 1) is not a loop. Anything unknown keeps frames:
 * being wrong towards streaming is caught at run time (vtab_input.c fails a
 * second scan), being wrong the other way only costs memory.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/stage.h"

#define MAX_OPS 200000

struct op {
	char name[16];
	int p1, p2, p3;
	uintptr_t vtab; /* VOpen's P4 ("vtab:55DD96257448", SQLite's %p) */
};

/* Opcodes whose P2 is a jump target (SQLite's "jump" opcodes). */
static const char *const jumps[] = {
	"Goto",         "Gosub",      "InitCoroutine",
	"Once",         "If",         "IfNot",
	"IsNull",       "IsType",     "NotNull",
	"IfNullRow",    "SeekLT",     "SeekLE",
	"SeekGE",       "SeekGT",     "IfNotOpen",
	"IfNoHope",     "NoConflict", "NotFound",
	"Found",        "SeekRowid",  "NotExists",
	"Last",         "IfSmaller",  "SorterSort",
	"Sort",         "Rewind",     "SorterNext",
	"Prev",         "Next",       "IdxLE",
	"IdxGT",        "IdxLT",      "IdxGE",
	"RowSetRead",   "RowSetTest", "Program",
	"FkIfZero",     "IfPos",      "IfNotZero",
	"DecrJumpZero", "IncrVacuum", "VFilter",
	"VNext",        "Filter",     "ElseEq",
	"Eq",           "Ne",         "Lt",
	"Le",           "Gt",         "Ge",
	"MustBeInt",    "SeekScan",   "SequenceTest",
	"Jump",         "NextIfOpen", "IfEmpty",
};

static bool is_jump(const char *name)
{
	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++)
		if (strcmp(jumps[i], name) == 0)
			return true;
	return false;
}

static int load_ops(sqlite3 *db, const char *sql, struct op **out, size_t *n, struct cmn_err *err)
{
	char *text = sqlite3_mprintf("EXPLAIN %s", sql);
	sqlite3_stmt *st = NULL;
	struct op *ops = NULL;
	size_t cap = 0;
	int rc;

	*n = 0;
	if (!text)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	rc = sqlite3_prepare_v2(db, text, -1, &st, NULL);
	sqlite3_free(text);
	if (rc != SQLITE_OK)
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < MAX_OPS) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *p4 = (const char *)sqlite3_column_text(st, 5);
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct op *no = reallocarray(ops, nc, sizeof(*no));
			if (!no) {
				rc = SQLITE_NOMEM;
				break;
			}
			ops = no;
			cap = nc;
		}
		memset(&ops[*n], 0, sizeof(ops[*n]));
		snprintf(ops[*n].name, sizeof(ops[*n].name), "%s", name ? name : "");
		ops[*n].p1 = sqlite3_column_int(st, 2);
		ops[*n].p2 = sqlite3_column_int(st, 3);
		ops[*n].p3 = sqlite3_column_int(st, 4);
		if (p4 && strncmp(p4, "vtab:", 5) == 0)
			ops[*n].vtab = (uintptr_t)strtoull(p4 + 5, NULL, 16);
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = ops;
	if (rc != SQLITE_DONE) {
		free(ops);
		*out = NULL;
		*n = 0; /* cannot tell: nothing streams */
	}
	return 0;
}

/* True when a jump from x to t re-enters a (t <= a < x), outside the Init
 * trampoline [init_block, n). */
static bool loops_over(const struct op *ops, size_t n, size_t a, size_t init_block)
{
	for (size_t x = a + 1; x < n && x < init_block; x++) {
		if (!is_jump(ops[x].name))
			continue;
		/* a P2 of 0 means "no jump" (address 0 is Init, never a loop head) */
		if (ops[x].p2 > 0 && (size_t)ops[x].p2 <= a)
			return true;
		if (strcmp(ops[x].name, "Jump") == 0 &&
		    ((ops[x].p1 > 0 && (size_t)ops[x].p1 <= a) ||
		     (ops[x].p3 > 0 && (size_t)ops[x].p3 <= a)))
			return true;
	}
	return false;
}

/* True when a lies in a subroutine body: [start, its Return]. */
static bool in_subroutine(const struct op *ops, size_t n, size_t a)
{
	for (size_t x = 0; x < n; x++) {
		size_t start;
		int reg;
		if (strcmp(ops[x].name, "Gosub") == 0) {
			start = (size_t)ops[x].p2;
			reg = ops[x].p1;
		} else if (strcmp(ops[x].name, "BeginSubrtn") == 0) {
			start = x;
			reg = ops[x].p2;
		} else {
			continue;
		}
		if (start > a)
			continue;
		for (size_t r = start; r < n; r++) {
			if (strcmp(ops[r].name, "Return") == 0 && ops[r].p1 == reg) {
				if (r >= a)
					return true;
				break;
			}
		}
	}
	return false;
}

static bool scanned_once(const struct op *ops, size_t n, uintptr_t vtab, size_t init_block)
{
	int cursor = -1;
	size_t filter = 0, nfilters = 0;

	for (size_t x = 0; x < n; x++) {
		if (strcmp(ops[x].name, "VOpen") == 0 && ops[x].vtab == vtab) {
			if (cursor >= 0)
				return false; /* two cursors: a self-join */
			cursor = ops[x].p1;
		}
	}
	for (size_t x = 0; cursor >= 0 && x < n; x++) {
		if (strcmp(ops[x].name, "VFilter") == 0 && ops[x].p1 == cursor) {
			filter = x;
			nfilters++;
		}
	}
	return nfilters == 1 && !loops_over(ops, n, filter, init_block) &&
	       !in_subroutine(ops, n, filter);
}

int rt_vtab_plan_streaming(sqlite3 *db, const char *sql, struct rt_input *inputs, size_t n,
			   struct cmn_err *err)
{
	struct op *ops = NULL;
	size_t nops, init_block;

	if (load_ops(db, sql, &ops, &nops, err) < 0)
		return -1;
	init_block = nops;
	if (nops && strcmp(ops[0].name, "Init") == 0 && ops[0].p2 > 0 && (size_t)ops[0].p2 < nops)
		init_block = (size_t)ops[0].p2;
	for (size_t i = 0; i < n; i++) {
		if (!inputs[i].vtab)
			continue;
		inputs[i].streaming =
		    scanned_once(ops, nops, (uintptr_t)inputs[i].vtab, init_block);
	}
	free(ops);
	return 0;
}
