/* scheduler/policy.c — parse and evaluate MaxCompute policy documents; see
 * policy.h. A document is validated fully at PUT time (unknown fields,
 * effects, operators or keys are errors naming the statement), so what is
 * stored always evaluates. */
#include "scheduler/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cond {
	int op; /* index into ops[] */
	int key;
	json_t *values; /* array of strings (borrowed from doc) */
};

struct stmt {
	bool deny;
	json_t *principals, *actions, *resources; /* arrays of strings, NULL = absent */
	struct cond *conds;
	size_t nconds;
};

struct sch_policy {
	json_t *doc;
	struct stmt *stmts;
	size_t n;
};

static const char *const ops[] = { "IpAddress",       "NotIpAddress", "StringEquals",
				   "StringNotEquals", "StringLike",   "StringNotLike" };
static const char *const keys[] = { "acs:SourceIp", "odps:TaskType" };

void sch_policy_free(struct sch_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		json_decref(p->stmts[i].principals);
		json_decref(p->stmts[i].actions);
		json_decref(p->stmts[i].resources);
		for (size_t j = 0; j < p->stmts[i].nconds; j++)
			json_decref(p->stmts[i].conds[j].values);
		free(p->stmts[i].conds);
	}
	free(p->stmts);
	json_decref(p->doc);
	free(p);
}

/* A string or a non-empty array of strings, returned as a new array. */
static int string_list(json_t *v, const char *field, size_t idx, json_t **out, struct cmn_err *err)
{
	size_t i;
	json_t *e;

	if (json_is_string(v)) {
		*out = json_array();
		if (!*out || json_array_append(*out, v) < 0)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "policy Statement[%zu].%s must be a string or a non-empty array",
				   idx, field);
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) == 0)
			return cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "policy Statement[%zu].%s[%zu] must be a non-empty string", idx, field,
			    i);
	}
	*out = json_incref(v);
	return 0;
}

static int lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* "a.b.c.d[/n]" or "x:y::z[/n]" into 16 bytes (IPv4 mapped into the first
 * 4), the family and the prefix length. */
static bool parse_cidr(const char *s, unsigned char addr[16], int *family, int *prefix)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	*prefix = max;
	if (slash) {
		const char *d = slash + 1;
		int v = 0;
		if (!*d || strlen(d) > 3)
			return false;
		for (; *d; d++) {
			if (!isdigit((unsigned char)*d))
				return false;
			v = v * 10 + (*d - '0');
		}
		if (v > max)
			return false;
		*prefix = v;
	}
	return true;
}

bool sch_ip_match(const char *cidr, const char *ip)
{
	unsigned char net[16], addr[16];
	int nf, af, prefix, ap;

	if (!cidr || !ip || !parse_cidr(cidr, net, &nf, &prefix) || strchr(ip, '/') ||
	    !parse_cidr(ip, addr, &af, &ap) || nf != af)
		return false;
	for (int bit = 0; bit < prefix; bit++) {
		unsigned char m = (unsigned char)(0x80u >> (bit % 8));
		if ((net[bit / 8] & m) != (addr[bit / 8] & m))
			return false;
	}
	return true;
}

static int check_cidrs(json_t *list, size_t idx, struct cmn_err *err)
{
	size_t i;
	json_t *e;
	unsigned char a[16];
	int f, p;

	json_array_foreach(list, i, e)
	{
		if (!parse_cidr(json_string_value(e), a, &f, &p))
			return cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "policy Statement[%zu]: '%.64s' is not an IP address or CIDR", idx,
			    json_string_value(e));
	}
	return 0;
}

static int parse_conditions(json_t *c, struct stmt *st, size_t idx, struct cmn_err *err)
{
	const char *op_name, *key_name;
	json_t *keymap, *vals;
	size_t total = 0;

	if (!json_is_object(c))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "policy Statement[%zu].Condition must be an object", idx);
	json_object_foreach(c, op_name, keymap)
	{
		if (!json_is_object(keymap))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "policy Statement[%zu].Condition.%s must be an object",
					   idx, op_name);
		total += json_object_size(keymap);
	}
	if (total > 64)
		return cmn_err_set(err, CMN_EINVAL, 0, "policy Statement[%zu]: too many conditions",
				   idx);
	st->conds = calloc(total ? total : 1, sizeof(*st->conds));
	if (!st->conds)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_object_foreach(c, op_name, keymap)
	{
		int op = lookup(ops, sizeof(ops) / sizeof(ops[0]), op_name);
		if (op < 0)
			return cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "policy Statement[%zu]: unsupported condition operator '%.64s'", idx,
			    op_name);
		json_object_foreach(keymap, key_name, vals)
		{
			int key = lookup(keys, sizeof(keys) / sizeof(keys[0]), key_name);
			struct cond *cd = &st->conds[st->nconds];
			json_t *list = NULL;
			if (key < 0)
				return cmn_err_set(
				    err, CMN_EINVAL, 0,
				    "policy Statement[%zu]: unsupported condition key '%.64s'", idx,
				    key_name);
			if ((op < 2) != (key == 0))
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "policy Statement[%zu]: %s does not apply to %s",
						   idx, ops[op], keys[key]);
			if (string_list(vals, "Condition", idx, &list, err) < 0)
				return -1;
			cd->op = op;
			cd->key = key;
			cd->values = list;
			st->nconds++;
			if (op < 2 && check_cidrs(list, idx, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int parse_statement(json_t *js, size_t idx, enum sch_policy_kind kind, struct stmt *st,
			   struct cmn_err *err)
{
	const char *k;
	json_t *v, *effect;

	if (!json_is_object(js))
		return cmn_err_set(err, CMN_EINVAL, 0, "policy Statement[%zu] must be an object",
				   idx);
	json_object_foreach(js, k, v)
	{
		if (strcmp(k, "Effect") && strcmp(k, "Principal") && strcmp(k, "Action") &&
		    strcmp(k, "Resource") && strcmp(k, "Condition"))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "policy Statement[%zu]: unknown field '%.64s'", idx, k);
	}
	effect = json_object_get(js, "Effect");
	if (!json_is_string(effect) || (strcasecmp(json_string_value(effect), "Allow") &&
					strcasecmp(json_string_value(effect), "Deny")))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "policy Statement[%zu].Effect must be \"Allow\" or \"Deny\"",
				   idx);
	st->deny = strcasecmp(json_string_value(effect), "Deny") == 0;
	v = json_object_get(js, "Principal");
	if (kind == SCH_POLICY_ROLE && v)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "policy Statement[%zu]: a role policy has no Principal", idx);
	if (kind != SCH_POLICY_ROLE) {
		if (!v)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "policy Statement[%zu]: Principal is required", idx);
		if (string_list(v, "Principal", idx, &st->principals, err) < 0)
			return -1;
	}
	if (!json_object_get(js, "Action") || !json_object_get(js, "Resource"))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "policy Statement[%zu]: Action and Resource are required", idx);
	if (string_list(json_object_get(js, "Action"), "Action", idx, &st->actions, err) < 0 ||
	    string_list(json_object_get(js, "Resource"), "Resource", idx, &st->resources, err) < 0)
		return -1;
	v = json_object_get(js, "Condition");
	if (v && parse_conditions(v, st, idx, err) < 0)
		return -1;
	return 0;
}

int sch_policy_parse(const char *json, size_t len, enum sch_policy_kind kind,
		     struct sch_policy **out, struct cmn_err *err)
{
	json_error_t jerr;
	struct sch_policy *p;
	json_t *stmts, *ver;

	*out = NULL;
	if (len > SCH_POLICY_MAX_TEXT)
		return cmn_err_set(err, CMN_EINVAL, 0, "policy of %zu bytes is over %u", len,
				   SCH_POLICY_MAX_TEXT);
	p = calloc(1, sizeof(*p));
	if (!p)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	p->doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!p->doc) {
		cmn_err_set(err, CMN_EINVAL, 0, "policy is not JSON: line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
		goto fail;
	}
	ver = json_object_get(p->doc, "Version");
	if (!json_is_object(p->doc) || !json_is_string(ver) ||
	    strcmp(json_string_value(ver), "1") != 0) {
		cmn_err_set(err, CMN_EINVAL, 0, "policy must be an object with \"Version\": \"1\"");
		goto fail;
	}
	stmts = json_object_get(p->doc, "Statement");
	if (!json_is_array(stmts) || json_array_size(stmts) > 256) {
		cmn_err_set(err, CMN_EINVAL, 0, "policy Statement must be an array (at most 256)");
		goto fail;
	}
	p->stmts = calloc(json_array_size(stmts) + 1, sizeof(*p->stmts));
	if (!p->stmts) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(stmts); i++) {
		p->n++;
		if (parse_statement(json_array_get(stmts, i), i, kind, &p->stmts[i], err) < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	sch_policy_free(p);
	return -1;
}

bool sch_wildcard_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' ||
			   tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static bool any_match(json_t *patterns, const char *s)
{
	size_t i;
	json_t *e;

	if (!s)
		return false;
	json_array_foreach(patterns, i, e)
	{
		if (sch_wildcard_match(json_string_value(e), s))
			return true;
	}
	return false;
}

static bool cond_holds(const struct cond *c, const struct sch_policy_request *rq)
{
	const char *val = c->key == 0 ? rq->source_ip : rq->task_type;
	size_t i;
	json_t *e;
	bool hit = false;

	if (!val || !*val)
		return false;
	json_array_foreach(c->values, i, e)
	{
		const char *v = json_string_value(e);
		if ((c->op < 2 && sch_ip_match(v, val)) ||
		    ((c->op == 2 || c->op == 3) && strcasecmp(v, val) == 0) ||
		    (c->op >= 4 && sch_wildcard_match(v, val)))
			hit = true;
	}
	return (c->op % 2 == 0) ? hit : !hit; /* odd operators are the Not... forms */
}

static bool stmt_matches(const struct stmt *st, const struct sch_policy_request *rq)
{
	if (st->principals && !any_match(st->principals, rq->principal))
		return false;
	if (!any_match(st->actions, rq->action))
		return false;
	if (!any_match(st->resources, rq->resource) && !any_match(st->resources, rq->resource_alt))
		return false;
	for (size_t i = 0; i < st->nconds; i++)
		if (!cond_holds(&st->conds[i], rq))
			return false;
	return true;
}

enum sch_policy_effect sch_policy_eval(const struct sch_policy *p,
				       const struct sch_policy_request *rq)
{
	enum sch_policy_effect eff = SCH_POLICY_NO_MATCH;

	for (size_t i = 0; p && i < p->n; i++) {
		if (!stmt_matches(&p->stmts[i], rq))
			continue;
		if (p->stmts[i].deny)
			return SCH_POLICY_DENY;
		eff = SCH_POLICY_ALLOW;
	}
	return eff;
}
