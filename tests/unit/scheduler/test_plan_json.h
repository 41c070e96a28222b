/* Stage plan JSON (docs/stage-plan.md), TRANSFORM, EXPLAIN and the hash;
 * part of test_plan.c. */

static void test_node_json(void **state)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *n, *w;
	(void)state;

	plan_query("SELECT country, geomean(score) FROM users WHERE age > 20 GROUP BY country", 2,
		   &sc, &r, &p);
	assert_int_equal(p.n, 3);
	/* MAP node 1 of 2: scan input, partial UDAF, partition sink to REDUCE */
	assert_int_equal(sch_plan_node_json(&p, 0, 1, "j-1", &n, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(n, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(n, "stage")), "map");
	assert_int_equal(json_integer_value(json_object_get(n, "node_index")), 1);
	assert_int_equal(json_integer_value(json_object_get(n, "node_count")), 2);
	{
		json_t *in = json_array_get(json_object_get(n, "inputs"), 0);
		json_t *cols = json_object_get(in, "columns");
		assert_string_equal(json_string_value(json_object_get(in, "table")), "in0");
		assert_true(json_is_null(json_object_get(json_object_get(in, "source"), "fd")));
		/* only the columns the query reads */
		assert_int_equal(json_array_size(cols), 3);
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(cols, 0), "name")), "country");
	}
	{
		json_t *f = json_array_get(json_object_get(n, "functions"), 0);
		assert_string_equal(json_string_value(json_object_get(f, "name")), "geomean");
		assert_string_equal(json_string_value(json_object_get(f, "kind")), "aggregate");
		assert_string_equal(json_string_value(json_object_get(f, "script")), "lib.lua");
		assert_int_equal(json_array_size(json_object_get(n, "scripts")), 1);
		assert_non_null(
		    strstr(json_string_value(json_object_get(n, "sql")), "\"geomean__partial\"("));
	}
	{
		json_t *sink = json_object_get(json_object_get(n, "output"), "sink");
		json_t *part = json_object_get(sink, "partition");
		assert_non_null(part);
		assert_int_equal(json_array_size(json_object_get(part, "keys")), 1);
		assert_int_equal(
		    json_integer_value(json_array_get(json_object_get(part, "keys"), 0)), 0);
		assert_true(json_is_null(json_object_get(part, "peers")));
		assert_int_equal(json_integer_value(json_object_get(part, "input")), 0);
	}
	json_decref(n);
	/* REDUCE: upstream input from 2 senders, __final merge */
	assert_int_equal(sch_plan_node_json(&p, 1, 0, "j-1", &n, &err), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_array_get(json_object_get(n, "inputs"), 0), "source"),
		"upstream")),
	    2);
	assert_non_null(
	    strstr(json_string_value(json_object_get(n, "sql")), "\"geomean__final\"("));
	/* to the 1-node FINAL over the overlay too: a partition without keys */
	{
		json_t *part = json_object_get(
		    json_object_get(json_object_get(n, "output"), "sink"), "partition");
		assert_non_null(part);
		assert_int_equal(json_array_size(json_object_get(part, "keys")), 0);
	}
	json_decref(n);
	/* FINAL: fd sink (the result) */
	assert_int_equal(sch_plan_node_json(&p, 2, 0, "j-1", &n, &err), 0);
	assert_true(json_is_null(
	    json_object_get(json_object_get(json_object_get(n, "output"), "sink"), "fd")));
	assert_int_equal(json_array_size(json_object_get(n, "functions")), 0);
	json_decref(n);
	assert_int_equal(sch_plan_node_json(&p, 2, 1, "j-1", &n, &err), -1);
	assert_int_equal(sch_plan_wiring_json(&p, &w, &err), 0);
	assert_int_equal(json_array_size(json_object_get(w, "stages")), 3);
	json_decref(w);
	sch_plan_free(&p);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void test_transform_json(void **state)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *n, *t;
	(void)state;

	plan_query("SELECT TRANSFORM(id, name) USING 'lua5.4 up.lua' RESOURCES 'up.lua' "
		   "AS (k BIGINT, v) FROM users WHERE age > 30",
		   2, &sc, &r, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(sch_plan_node_json(&p, 0, 0, "j-2", &n, &err), 0);
	t = json_object_get(n, "transform");
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "argv"), 0)),
			    "lua5.4");
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "argv"), 1)),
			    "up.lua");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(t, "columns"), 0), "type")),
			    "BIGINT");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(n, "resources"), 0), "name")),
			    "up.lua");
	assert_non_null(strstr(json_string_value(json_object_get(n, "sql")), "WHERE"));
	json_decref(n);
	sch_plan_free(&p);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void test_explain(void **state)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	char *text;
	(void)state;

	plan_query("SELECT u.country, COUNT(*) FROM users u JOIN orders o ON u.id = o.user_id "
		   "GROUP BY u.country",
		   4, &sc, &r, &p);
	text = sch_plan_explain(&p, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "Stage 0: MAP x4"));
	assert_non_null(strstr(text, "scan p1.users (id, country)"));
	assert_non_null(strstr(text, "Stage 2: REDUCE x4"));
	assert_non_null(strstr(text, "Stage 3: REDUCE x4"));
	assert_non_null(strstr(text, "Stage 4: FINAL x1"));
	assert_non_null(strstr(text, "hash on __cordon_j0"));
	assert_non_null(strstr(text, "output: result"));
	free(text);
	sch_plan_free(&p);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void test_hash(void **state)
{
	uint64_t a, b;
	(void)state;
	/* FNV-1a 64 of the empty input is the offset basis */
	assert_true(sch_plan_hash_init() == 0xcbf29ce484222325ULL);
	/* NULL is one tag byte 0 */
	a = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_BIGINT, true, 0, 0, NULL, 0);
	b = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_STRING, true, 0, 0, NULL, 0);
	assert_true(a == b);
	assert_true(a == ((0xcbf29ce484222325ULL ^ 0) * 0x100000001b3ULL));
	/* -0.0 and 0.0 hash the same, types are tagged */
	a = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_DOUBLE, false, 0, -0.0, NULL, 0);
	b = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_DOUBLE, false, 0, 0.0, NULL, 0);
	assert_true(a == b);
	b = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_BIGINT, false, 0, 0.0, NULL, 0);
	assert_true(a != b);
	/* strings are separated: ("ab","c") differs from ("a","bc") */
	a = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_STRING, false, 0, 0, "ab", 2);
	a = sch_plan_hash_value(a, SCH_QT_STRING, false, 0, 0, "c", 1);
	b = sch_plan_hash_value(sch_plan_hash_init(), SCH_QT_STRING, false, 0, 0, "a", 1);
	b = sch_plan_hash_value(b, SCH_QT_STRING, false, 0, 0, "bc", 2);
	assert_true(a != b);
}

static void plan_err(const char *sql, int nodes, const char *expected)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	struct sch_q_env env;
	struct sch_plan_opts o = { .project = "p1", .nodes = nodes };

	sch_tables_env(&env, cat, "p1");
	assert_int_equal(sch_q_parse(sql, strlen(sql), &sc, &err), 0);
	if (sch_q_resolve(&env, sc.v[0], &r, &err) < 0)
		fail_msg("resolve %s: %s", sql, err.msg);
	assert_int_equal(sch_plan_build(sc.v[0], &r, &o, &p, &err), -1);
	if (!strstr(err.msg, expected))
		fail_msg("%s: '%s', expected '%s'", sql, err.msg, expected);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void test_plan_errors(void **state)
{
	(void)state;
	plan_err("SELECT TRANSFORM(id) USING 'cat' FROM users ORDER BY id", 2,
		 "1:1: TRANSFORM cannot be combined with ORDER BY");
	plan_err("SELECT s.k FROM (SELECT TRANSFORM(id) USING 'cat' AS (k) FROM users) s", 2,
		 "1:18: TRANSFORM is only supported over one table at the top level");
	plan_err("SELECT DISTINCT country FROM users ORDER BY age", 2,
		 "1:45: ORDER BY of this query must name a selected column");
	plan_err("SELECT TRANSFORM(id) USING '  ' FROM users", 2, "TRANSFORM USING '' is empty");
	plan_err("SELECT id FROM users", 0, "cordon.nodes must be 1..64");
	plan_err("SELECT id FROM users", 65, "cordon.nodes must be 1..64");
}
