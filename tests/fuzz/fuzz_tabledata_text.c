/* libFuzzer target: the bulk-upload body parsers (scheduler/tabledata_text.c:
 * CSV and JSON lines into row batches) and the text form of values. The
 * first byte picks the format; the rest is the body, for a table with one
 * column of every type. Any input must be refused with an error or give
 * batches that decode, never read out of bounds or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rowfmt.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char n[6][8] = { "id", "name", "score", "ok", "at", "raw" };
	static char project[] = "p", table[] = "t";
	static struct cmn_rowbatch_reader r;
	static struct cmn_value vals[8];
	struct sch_q_coldef cols[6] = {
		{ n[0], SCH_QT_BIGINT, NULL },   { n[1], SCH_QT_STRING, NULL },
		{ n[2], SCH_QT_DOUBLE, NULL },   { n[3], SCH_QT_BOOLEAN, NULL },
		{ n[4], SCH_QT_DATETIME, NULL }, { n[5], SCH_QT_BINARY, NULL },
	};
	struct sch_tabledef t = { .project = project, .name = table, .cols = cols, .ncols = 6 };
	struct sch_tabledata_rows rows;
	struct cmn_buf text, scratch;

	if (size < 1)
		return 0;
	if (sch_tabledata_parse_body(&t, data[0] & 1, (const char *)data + 1, size - 1, &rows,
				     NULL) == 0) {
		cmn_buf_init(&text, 0);
		for (size_t i = 0; i < rows.n; i++) {
			if (cmn_rowbatch_open(&r, rows.v[i].data, rows.v[i].len, NULL) < 0)
				abort(); /* a parsed body must give valid batches */
			while (cmn_rowbatch_next(&r, vals, NULL) == 1)
				for (size_t k = 0; k < 6; k++) {
					cmn_buf_reset(&text);
					if (!vals[k].is_null &&
					    sch_tabledata_value_to_text(r.cols[k].type, &vals[k],
									&text, NULL) < 0 &&
					    r.cols[k].type != CMN_COL_DATETIME)
						abort();
				}
		}
		cmn_buf_free(&text);
		sch_tabledata_rows_free(&rows);
	}
	/* one value of each type straight from the input */
	cmn_buf_init(&scratch, 0);
	for (int ty = CMN_COL_BIGINT; ty <= CMN_COL_DATETIME; ty++)
		(void)sch_tabledata_value_from_text((enum cmn_col_type)ty, (const char *)data + 1,
						    size - 1, &vals[0], &scratch, NULL);
	cmn_buf_free(&scratch);
	return 0;
}
