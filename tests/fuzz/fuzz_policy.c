/* libFuzzer target: MaxCompute policy JSON (scheduler/policy.c). The input
 * is parsed as each kind of policy and, when it parses, evaluated against a
 * few fixed requests; wildcard and CIDR matching get the raw bytes too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sch_policy_request rqs[] = {
		{ "RAM$a:bob", "odps:Select", "acs:odps:*:projects/p/tables/t/columns/c",
		  "acs:odps:*:projects/p/tables/t", "10.1.2.3", "SQL" },
		{ "ALIYUN$x", "odps:Update", "acs:odps:*:projects/q/tables/u", NULL, "fd00::1",
		  NULL },
		{ NULL, "odps:*", "*", NULL, NULL, "DT" },
	};
	char *s;

	for (int kind = SCH_POLICY_PROJECT; kind <= SCH_POLICY_EXCEPTION; kind++) {
		struct sch_policy *p = NULL;
		struct cmn_err err = CMN_ERR_INIT;
		if (sch_policy_parse((const char *)data, size, (enum sch_policy_kind)kind, &p,
				     &err) < 0)
			continue;
		for (size_t i = 0; i < sizeof(rqs) / sizeof(rqs[0]); i++)
			(void)sch_policy_eval(p, &rqs[i]);
		sch_policy_free(p);
	}
	/* split the input at the first NUL into a pattern and a subject */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (strlen(s) < size) {
		const char *subject = s + strlen(s) + 1;
		(void)sch_wildcard_match(s, subject);
		(void)sch_ip_match(s, subject);
	}
	free(s);
	return 0;
}
