/* scheduler/stmt_basic.c — the statements the API module runs itself,
 * until the SQL compiler's handler (registered before this one) takes
 * them: `WHOAMI;` and `SETPROJECT odps.security.ip.whitelist=...;`.
 * A small recognizer, not a parser: one statement per job text, keywords
 * case-insensitive, surrounding whitespace ignored. Anything else is left
 * to other handlers (0), so dispatch ends in "unknown statement". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "scheduler/accounts.h"
#include "scheduler/api.h"
#include "scheduler/stmt.h"
#include "scheduler/whitelist.h"

static struct sch_accounts *accounts;

/* Trims s[0..len) and one trailing ';'; returns false if empty. */
static bool trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
	if (*len && (*s)[*len - 1] == ';')
		(*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
	return *len > 0;
}

static int whoami(struct sch_stmt_ctx *ctx, json_t **result)
{
	static const char *types[] = { "account", "user", "role" };
	const struct sch_principal *p = ctx->principal;
	*result = json_pack("{s:[s,s,s], s:[[s,s,s]]}", "columns", "principal", "account", "type",
			    "rows", p->name, p->account, types[p->type]);
	return *result ? 1 : -1;
}

static void audit(struct sch_stmt_ctx *ctx, const char *decision, const char *reason,
		  const char *code)
{
	char resource[256];
	struct sch_audit_event ev = { "SetProjectIpWhitelist", resource, decision, reason, code };
	snprintf(resource, sizeof(resource), "acs:odps:*:projects/%s", ctx->project);
	if (ctx->audit)
		ctx->audit(ctx->audit_arg, &ev);
}

static int set_whitelist(struct sch_stmt_ctx *ctx, const char *value, size_t len, json_t **result,
			 struct cmn_err *err)
{
	cleanup_free char *text = strndup(value, len);
	cleanup_free struct sch_whitelist *wl = malloc(sizeof(*wl));
	char owner[300], mine[300];

	if (!text || !wl)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (sch_project_get_owner(accounts, ctx->project, owner, sizeof(owner), err) < 0)
		return -1;
	snprintf(mine, sizeof(mine), "ALIYUN$%s", ctx->principal->account);
	if (!ctx->principal->super_admin &&
	    (ctx->principal->type != SCH_PRINCIPAL_ACCOUNT || strcmp(owner, mine) != 0)) {
		audit(ctx, "deny", "only the project owner or an operator sets the whitelist",
		      "AccessDenied");
		return cmn_err_set(err, CMN_EDENIED, 0,
				   "%s may not set the IP whitelist of project %s (owner: %s)",
				   ctx->principal->name, ctx->project, owner);
	}
	if (sch_whitelist_parse(text, wl, err) < 0)
		return cmn_err_wrap(err, "1:%zu: odps.security.ip.whitelist", (size_t)1);
	if (sch_project_set_whitelist(accounts, ctx->project, text, err) < 0)
		return -1;
	audit(ctx, "allow", text[0] ? text : "(whitelist disabled)", NULL);
	*result = json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
	return *result ? 1 : -1;
}

static int basic_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			 struct cmn_err *err)
{
	static const char key[] = "odps.security.ip.whitelist";
	const char *s = sql;

	if (!trim(&s, &len) || memchr(s, ';', len))
		return 0;
	if (len == 6 && strncasecmp(s, "WHOAMI", 6) == 0)
		return whoami(ctx, result);
	if (len > 10 && strncasecmp(s, "SETPROJECT", 10) == 0 && isspace((unsigned char)s[10])) {
		const char *p = s + 10, *end = s + len;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if ((size_t)(end - p) < sizeof(key) - 1 ||
		    strncasecmp(p, key, sizeof(key) - 1) != 0)
			return 0;
		p += sizeof(key) - 1;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end || *p != '=')
			return cmn_err_set(err, CMN_EINVAL, 0, "1:%zu: expected '=' after %s",
					   (size_t)(p - sql) + 1, key);
		p++;
		while (p < end && isspace((unsigned char)*p))
			p++;
		return set_whitelist(ctx, p, (size_t)(end - p), result, err);
	}
	return 0;
}

int sch_stmt_basic_register(struct sch_accounts *acc)
{
	accounts = acc;
	return sch_stmt_register("api-basic", basic_handler);
}
