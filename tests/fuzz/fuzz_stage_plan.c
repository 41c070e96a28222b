/* libFuzzer target: the stage plan parser (runtime/stage_plan.c) and the
 * hello line parser (runtime/stream.c) on arbitrary bytes. Either accepts
 * and frees cleanly, or refuses; never crashes, leaks or reads past len. */
#include <stddef.h>
#include <stdint.h>

#include "runtime/stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_plan plan;
	struct rt_hello hello;
	struct cmn_err err = CMN_ERR_INIT;

	if (rt_plan_parse((const char *)data, size, &plan, &err) == 0)
		rt_plan_free(&plan);
	if (size <= RT_HELLO_MAX)
		(void)rt_hello_parse((const char *)data, size, &hello, &err);
	return 0;
}
