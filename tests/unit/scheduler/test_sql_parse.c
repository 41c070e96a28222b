/* Unit tests of the SQL lexer and parser: every security statement of SQL.md,
 * EXPLAIN PERMISSION, WHOAMI, the query subset, and the line:col errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/sql_lex.h"
#include "scheduler/sql_parse.h"

static struct sch_sql_stmt *parse1(struct sch_sql_script *sc, const char *sql)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc = sch_sql_parse(sql, strlen(sql), sc, &err);
	if (rc < 0)
		fail_msg("parse '%s': %s", sql, err.msg);
	assert_int_equal(sc->n, 1);
	return sc->v[0];
}

static void parse_err(const char *sql, const char *expected)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_sql_script sc;
	assert_int_equal(sch_sql_parse(sql, strlen(sql), &sc, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	if (strstr(err.msg, expected) == NULL)
		fail_msg("error for '%s' is '%s', expected '%s'", sql, err.msg, expected);
	assert_null(sc.v);
}

static void test_lex_positions(void **state)
{
	struct sch_tokens t;
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = "GRANT Select\n  ON `my tbl` -- c\n TO 'it''s' /* x */ 12;";
	(void)state;
	assert_int_equal(sch_sql_lex(sql, strlen(sql), &t, &err), 0);
	assert_int_equal(t.n, 9);
	assert_int_equal(t.v[2].line, 2);
	assert_int_equal(t.v[2].col, 3);
	assert_int_equal(t.v[3].type, SCH_TOK_QIDENT);
	assert_string_equal(t.v[3].text, "my tbl");
	assert_int_equal(t.v[5].type, SCH_TOK_STRING);
	assert_string_equal(t.v[5].text, "it's");
	assert_int_equal(t.v[6].type, SCH_TOK_NUMBER);
	assert_int_equal(t.v[7].type, SCH_TOK_PUNCT);
	assert_true(sch_tok_is_kw(&t.v[1], "SELECT"));
	sch_sql_tokens_free(&t);
}

static void test_lex_errors(void **state)
{
	(void)state;
	parse_err("GRANT 'abc", "1:7: unterminated string");
	parse_err("GRANT\n  /* x", "2:3: unterminated comment");
	parse_err("LIST USERS #", "1:12: unexpected character '#'");
	parse_err("SET LABEL 1x TO USER u", "1:11: malformed number");
	parse_err("ADD USER ``", "1:10: empty quoted name");
	{
		const char sql[] = "ADD USER 'a\0b'";
		struct cmn_err err = CMN_ERR_INIT;
		struct sch_sql_script sc;
		assert_int_equal(sch_sql_parse(sql, sizeof(sql) - 1, &sc, &err), -1);
		assert_non_null(strstr(err.msg, "NUL byte"));
	}
}

static void test_users_roles(void **state)
{
	struct sch_sql_script sc;
	struct sch_sql_stmt *s;
	(void)state;
	s = parse1(&sc, "add user RAM$acme:alice;");
	assert_int_equal(s->kind, SCH_SQL_ADD_USER);
	assert_string_equal(s->name, "RAM$acme:alice");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "REMOVE USER ALIYUN$bob");
	assert_int_equal(s->kind, SCH_SQL_REMOVE_USER);
	assert_string_equal(s->name, "ALIYUN$bob");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "GRANT analyst TO RAM$acme:role/etl");
	assert_int_equal(s->kind, SCH_SQL_GRANT_ROLE);
	assert_string_equal(s->name, "analyst");
	assert_string_equal(s->grantee, "RAM$acme:role/etl");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "REVOKE analyst FROM RAM$acme:bob");
	assert_int_equal(s->kind, SCH_SQL_REVOKE_ROLE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "desc role analyst");
	assert_int_equal(s->kind, SCH_SQL_DESC_ROLE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "CREATE ROLE r1");
	assert_int_equal(s->kind, SCH_SQL_CREATE_ROLE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "DROP ROLE r1");
	assert_int_equal(s->kind, SCH_SQL_DROP_ROLE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "LIST ROLES");
	assert_int_equal(s->kind, SCH_SQL_LIST_ROLES);
	sch_sql_script_free(&sc);
	/* a blank splits a principal name: the rest does not fit the grammar */
	parse_err("ADD USER RAM$acme : alice", "1:19: expected ';' or end of text");
}

static void test_acl(void **state)
{
	struct sch_sql_script sc;
	struct sch_sql_stmt *s;
	(void)state;
	s = parse1(&sc, "GRANT Select, Describe ON TABLE sales (a, `b`) TO USER RAM$acme:bob "
			"PRIVILEGEPROPERTIES (\"expires\"=\"10\")");
	assert_int_equal(s->kind, SCH_SQL_GRANT);
	assert_int_equal(s->actions.n, 2);
	assert_string_equal(s->actions.v[1], "Describe");
	assert_int_equal(s->obj_type, SCH_OBJ_TABLE);
	assert_string_equal(s->obj.name, "sales");
	assert_int_equal(s->columns.n, 2);
	assert_string_equal(s->columns.v[1], "b");
	assert_false(s->grantee_is_role);
	assert_true(s->has_days);
	assert_int_equal(s->days, 10);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "revoke All on function f from role r");
	assert_int_equal(s->kind, SCH_SQL_REVOKE);
	assert_int_equal(s->obj_type, SCH_OBJ_FUNCTION);
	assert_true(s->grantee_is_role);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "GRANT READ ON PACKAGE src.pkg TO ROLE r");
	assert_int_equal(s->obj_type, SCH_OBJ_PACKAGE);
	assert_string_equal(s->obj.project, "src");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SHOW GRANTS FOR RAM$acme:bob ON TYPE TABLE");
	assert_int_equal(s->kind, SCH_SQL_SHOW_GRANTS);
	assert_int_equal(s->filter_type, SCH_OBJ_TABLE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SHOW ACL FOR t ON TYPE TABLE");
	assert_int_equal(s->kind, SCH_SQL_SHOW_ACL);
	sch_sql_script_free(&sc);
	parse_err("GRANT Select ON TABLE t TO bob", "1:28: expected USER or ROLE");
	parse_err("GRANT Select ON BANANA t TO USER bob", "1:17: expected object type");
	parse_err("GRANT a, b TO u", "expected ON");
	parse_err("GRANT Select ON TABLE t TO USER u PRIVILEGEPROPERTIES (\"color\"=\"1\")",
		  "unknown privilege property");
	parse_err("GRANT Select ON TABLE t TO USER u PRIVILEGEPROPERTIES (\"expires\"=\"-1\")",
		  "expires must be");
}

static void test_policy_flags_labels(void **state)
{
	struct sch_sql_script sc;
	struct sch_sql_stmt *s;
	(void)state;
	s = parse1(&sc, "PUT POLICY '{\"Version\":\"1\"}' ON ROLE r");
	assert_int_equal(s->kind, SCH_SQL_PUT_POLICY);
	assert_string_equal(s->text, "{\"Version\":\"1\"}");
	assert_string_equal(s->role, "r");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "GET POLICY");
	assert_int_equal(s->kind, SCH_SQL_GET_POLICY);
	assert_null(s->role);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "set projectprotection=true with exception '{}'");
	assert_int_equal(s->kind, SCH_SQL_SET_FLAG);
	assert_string_equal(s->flag, "ProjectProtection");
	assert_true(s->flag_value);
	assert_string_equal(s->text, "{}");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SET LabelSecurity=false");
	assert_false(s->flag_value);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SET LABEL 3 TO TABLE t(a, b)");
	assert_int_equal(s->kind, SCH_SQL_SET_LABEL_TABLE);
	assert_int_equal(s->level, 3);
	assert_int_equal(s->columns.n, 2);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SET LABEL 2 TO USER RAM$a:b");
	assert_int_equal(s->kind, SCH_SQL_SET_LABEL_USER);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "GRANT LABEL 4 ON TABLE t(c) TO USER RAM$a:b WITH EXP 3");
	assert_int_equal(s->kind, SCH_SQL_GRANT_LABEL);
	assert_int_equal(s->level, 4);
	assert_int_equal(s->days, 3);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "REVOKE LABEL ON TABLE t FROM USER RAM$a:b");
	assert_int_equal(s->kind, SCH_SQL_REVOKE_LABEL);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SHOW LABEL 2 GRANTS ON TABLE t FOR USER u");
	assert_int_equal(s->kind, SCH_SQL_SHOW_LABEL_GRANTS);
	assert_true(s->has_level);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "clear expired grants");
	assert_int_equal(s->kind, SCH_SQL_CLEAR_EXPIRED_GRANTS);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "SHOW SecurityConfiguration");
	assert_int_equal(s->kind, SCH_SQL_SHOW_SECURITY_CONFIG);
	sch_sql_script_free(&sc);
	parse_err("SET LABEL 10 TO USER u", "1:11: label level must be an integer 0..9");
	parse_err("SET LabelSecurity=maybe", "1:19: expected true or false");
	parse_err("SET LabelSecurity=true WITH EXCEPTION '{}'", "1:24: expected ';'");
	parse_err("PUT POLICY {}", "1:12: unexpected character");
	parse_err("PUT POLICY x", "1:12: expected policy");
}

static void test_trusted_packages(void **state)
{
	struct sch_sql_script sc;
	struct sch_sql_stmt *s;
	(void)state;
	s = parse1(&sc, "ADD TRUSTEDPROJECT p2");
	assert_int_equal(s->kind, SCH_SQL_ADD_TRUSTED);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "LIST TRUSTEDPROJECTS");
	assert_int_equal(s->kind, SCH_SQL_LIST_TRUSTED);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "ADD TABLE t TO PACKAGE pk WITH PRIVILEGES Select, Update");
	assert_int_equal(s->kind, SCH_SQL_ADD_TO_PACKAGE);
	assert_string_equal(s->name, "pk");
	assert_int_equal(s->actions.n, 2);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "REMOVE FUNCTION f FROM PACKAGE pk");
	assert_int_equal(s->kind, SCH_SQL_REMOVE_FROM_PACKAGE);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "ALLOW PROJECT p2 TO INSTALL PACKAGE pk USING LABEL 2");
	assert_int_equal(s->kind, SCH_SQL_ALLOW_INSTALL);
	assert_int_equal(s->level, 2);
	sch_sql_script_free(&sc);
	s = parse1(&sc, "INSTALL PACKAGE p1.pk");
	assert_int_equal(s->kind, SCH_SQL_INSTALL_PACKAGE);
	assert_string_equal(s->obj.project, "p1");
	sch_sql_script_free(&sc);
	s = parse1(&sc, "DESCRIBE PACKAGE p1.pk");
	assert_int_equal(s->kind, SCH_SQL_DESCRIBE_PACKAGE);
	sch_sql_script_free(&sc);
	parse_err("INSTALL PACKAGE pk", "expected <project>.<package>");
	parse_err("ADD PROJECT p TO PACKAGE x", "only a table");
}

static void test_explain_and_script(void **state)
{
	struct sch_sql_script sc;
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = "WHOAMI;\nEXPLAIN PERMISSION SELECT a, t.b FROM p.t x;\n"
			  "explain permission insert into table q SELECT * FROM t;";
	(void)state;
	assert_int_equal(sch_sql_parse(sql, strlen(sql), &sc, &err), 0);
	assert_int_equal(sc.n, 3);
	assert_int_equal(sc.v[0]->kind, SCH_SQL_WHOAMI);
	assert_int_equal(sc.v[1]->kind, SCH_SQL_EXPLAIN_PERMISSION);
	assert_int_equal(sc.v[1]->line, 2);
	assert_int_equal(sc.v[1]->inner->kind, SCH_SQL_SELECT);
	assert_int_equal(sc.v[1]->inner->select_cols.n, 2);
	assert_string_equal(sc.v[1]->inner->select_cols.v[1], "b");
	assert_string_equal(sc.v[1]->inner->from.project, "p");
	assert_int_equal(sc.v[2]->inner->kind, SCH_SQL_INSERT);
	assert_true(sc.v[2]->inner->select_star);
	sch_sql_script_free(&sc);
	parse_err("EXPLAIN PERMISSION EXPLAIN PERMISSION WHOAMI", "cannot be nested");
	parse_err("WHOAMI\nLIST USERS", "2:1: expected ';' or end of text");
	parse_err("  ;; ", "1:6: no statement");
	parse_err("FROBNICATE", "1:1: expected a statement");
}

static void test_classify(void **state)
{
	struct sch_sql_classes c;
	struct cmn_err err = CMN_ERR_INIT;
	const char *a = "SELECT 1; CREATE TABLE t (a bigint); SET odps.session.networklink=x";
	const char *b = "CREATE ROLE r; SHOW GRANTS; SET LabelSecurity=true; DESC ROLE r";
	const char *m = "GRANT r TO u; SHOW TABLES; EXPLAIN SELECT 1; EXPLAIN PERMISSION WHOAMI";
	(void)state;
	assert_int_equal(sch_sql_classify(a, strlen(a), &c, &err), 0);
	assert_int_equal(c.security, 0);
	assert_int_equal(c.other, 3);
	assert_int_equal(sch_sql_classify(b, strlen(b), &c, &err), 0);
	assert_int_equal(c.security, 4);
	assert_int_equal(c.other, 0);
	assert_int_equal(sch_sql_classify(m, strlen(m), &c, &err), 0);
	assert_int_equal(c.security, 2);
	assert_int_equal(c.other, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_positions),       cmocka_unit_test(test_lex_errors),
		cmocka_unit_test(test_users_roles),         cmocka_unit_test(test_acl),
		cmocka_unit_test(test_policy_flags_labels), cmocka_unit_test(test_trusted_packages),
		cmocka_unit_test(test_explain_and_script),  cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
