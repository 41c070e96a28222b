/* scheduler/policy.h — MaxCompute policy documents (JSON, jansson).
 *
 *   {"Version": "1", "Statement": [{
 *      "Effect": "Allow" | "Deny",
 *      "Principal": ["RAM$acme:alice", "*"],        project policy only
 *      "Action": ["odps:Select", "odps:*"],          wildcards * and ?
 *      "Resource": ["acs:odps:*:projects/p/tables/t*"],
 *      "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]},
 *                    "StringEquals": {"odps:TaskType": ["SQL"]}}}]}
 *
 * Operators: IpAddress, NotIpAddress, StringEquals, StringNotEquals,
 * StringLike, StringNotLike. Keys: acs:SourceIp, odps:TaskType. A condition
 * whose key has no value in the request does not hold (as in RAM/IAM).
 * Matching of actions, resources and principals ignores case. Within one
 * document a matching Deny wins over a matching Allow.
 */
#ifndef SCH_POLICY_H
#define SCH_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct sch_policy;

enum sch_policy_kind {
	SCH_POLICY_PROJECT,   /* Principal required */
	SCH_POLICY_ROLE,      /* Principal not allowed: the role's members are the principals */
	SCH_POLICY_EXCEPTION, /* ProjectProtection exception: Principal required */
};

#define SCH_POLICY_MAX_TEXT (64u * 1024)

int sch_policy_parse(const char *json, size_t len, enum sch_policy_kind kind,
		     struct sch_policy **out, struct cmn_err *err);
void sch_policy_free(struct sch_policy *p);

struct sch_policy_request {
	const char *principal;    /* ignored for role policies */
	const char *action;       /* odps:Select */
	const char *resource;     /* acs:odps:*:projects/p/tables/t/columns/c */
	const char *resource_alt; /* the same without the column, or NULL */
	const char *source_ip;
	const char *task_type;
};

enum sch_policy_effect { SCH_POLICY_NO_MATCH = 0, SCH_POLICY_ALLOW, SCH_POLICY_DENY };

enum sch_policy_effect sch_policy_eval(const struct sch_policy *p,
				       const struct sch_policy_request *rq);

/* Glob match with * and ?, ignoring ASCII case. Linear in practice: the
 * classic backtracking over the last '*' only. */
bool sch_wildcard_match(const char *pattern, const char *s);

/* IPv4/IPv6 address against "a.b.c.d", "a.b.c.d/n", "x::/n". */
bool sch_ip_match(const char *cidr, const char *ip);

#endif
