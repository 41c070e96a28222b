/* libFuzzer target: the row batch decoder (common/rowfmt). Any input must be
 * either refused or walked to the end without reading out of bounds. */
/* rowfmt.c is compiled in here so that it carries the fuzzer's coverage
 * instrumentation (the common library is built without it). */
#include "../../common/rowfmt.c"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cmn_rowbatch_reader r;
	static struct cmn_value vals[CMN_ROW_MAX_COLS];
	struct cmn_err err = CMN_ERR_INIT;

	if (cmn_rowbatch_open(&r, data, size, &err) < 0)
		return 0;
	while (cmn_rowbatch_next(&r, vals, &err) == 1)
		;
	return 0;
}
