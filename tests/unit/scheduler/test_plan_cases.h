/* The queries of test_plan.c: Cordon SQL, the same query for SQLite when
 * the text differs, whether row order is defined, and the expected shape
 * (M = MAP, R = REDUCE, F = FINAL stages in plan order). */
static const struct qcase cases[] = {
	/* filters and projections: MAP + FINAL */
	{ "SELECT id, name FROM users", NULL, false, "MF" },
	{ "SELECT id, score * 2 AS s2 FROM users WHERE score > 50", NULL, false, "MF" },
	{ "SELECT * FROM users WHERE country = 'cn'", NULL, false, "MF" },
	{ "SELECT id FROM users WHERE name IS NULL", NULL, false, "MF" },
	{ "SELECT id FROM users WHERE country IN ('us', 'de') AND age BETWEEN 20 AND 30", NULL,
	  false, "MF" },
	{ "SELECT id, name FROM users WHERE email LIKE '%ex1%' OR NOT age > 20", NULL, false,
	  "MF" },
	{ "SELECT id, CASE WHEN score >= 50 THEN 'high' WHEN score IS NULL THEN 'none' ELSE 'low' "
	  "END AS band FROM users",
	  NULL, false, "MF" },
	{ "SELECT id, CASE country WHEN 'cn' THEN 1 WHEN 'us' THEN 2 END FROM users", NULL, false,
	  "MF" },
	{ "SELECT id, CAST(score AS BIGINT) AS si, CAST(id AS STRING) AS ids FROM users",
	  "SELECT id, CAST(score AS INTEGER), CAST(id AS TEXT) FROM users", false, "MF" },
	{ "SELECT id, score / 3 AS d, age % 7, -age FROM users WHERE score IS NOT NULL",
	  "SELECT id, CAST(score AS REAL) / 3, age % 7, -age FROM users WHERE score IS NOT NULL",
	  false, "MF" },
	{ "SELECT id, nvl(name, 'anon'), concat(country, '-', name), upper(country) FROM users",
	  "SELECT id, ifnull(name, 'anon'), country || '-' || name, upper(country) FROM users",
	  false, "MF" },
	{ "SELECT id, name FROM users ORDER BY id DESC LIMIT 10", NULL, true, "MF" },
	{ "SELECT id FROM users ORDER BY score DESC, id LIMIT 15", NULL, true, "MF" },
	{ "SELECT id, age FROM users WHERE id NOT IN (1, 2, 3) AND name NOT LIKE 'name1%' "
	  "ORDER BY age, id",
	  NULL, true, "MF" },
	/* aggregation: MAP (partial) + REDUCE (merge) + FINAL */
	{ "SELECT COUNT(*) FROM users", NULL, false, "MRF" },
	{ "SELECT COUNT(*), COUNT(name), SUM(age), AVG(score), MIN(score), MAX(name) FROM users",
	  NULL, false, "MRF" },
	{ "SELECT country, COUNT(*) AS n FROM users GROUP BY country", NULL, false, "MRF" },
	{ "SELECT country, AVG(score) AS a, SUM(score) AS s FROM users GROUP BY country "
	  "HAVING COUNT(*) > 50",
	  NULL, false, "MRF" },
	{ "SELECT country, MIN(age), MAX(age) FROM users WHERE score > 20 GROUP BY country "
	  "ORDER BY country LIMIT 3",
	  NULL, true, "MRF" },
	{ "SELECT age % 5 AS b, COUNT(*) FROM users GROUP BY age % 5 ORDER BY b", NULL, true,
	  "MRF" },
	{ "SELECT country, COUNT(*) AS n FROM users GROUP BY country ORDER BY n DESC, country "
	  "LIMIT 2",
	  NULL, true, "MRF" },
	{ "SELECT status, MAX(amount) - MIN(amount) AS spread FROM orders GROUP BY status "
	  "HAVING MAX(amount) > 10",
	  NULL, false, "MRF" },
	{ "SELECT user_id, SUM(amount) FROM orders GROUP BY user_id HAVING SUM(amount) > 100 "
	  "ORDER BY user_id",
	  NULL, true, "MRF" },
	{ "SELECT SUM(amount) FROM orders WHERE amount > 1000", NULL, false, "MRF" },
	{ "SELECT COUNT(*), AVG(amount) FROM orders WHERE amount > 1000", NULL, false, "MRF" },
	{ "SELECT country, COUNT(DISTINCT age) FROM users GROUP BY country", NULL, false, "MRF" },
	{ "SELECT COUNT(DISTINCT country), COUNT(*) FROM users", NULL, false, "MRF" },
	{ "SELECT country IS NULL AS unknown, SUM(age) FROM users GROUP BY country IS NULL", NULL,
	  false, "MRF" },
	/* DISTINCT: MAP + REDUCE + FINAL */
	{ "SELECT DISTINCT country FROM users", NULL, false, "MRF" },
	{ "SELECT DISTINCT country, age % 3 FROM users ORDER BY country", NULL, false, "MRF" },
	/* joins: MAP per side + REDUCE (hash on the keys) + FINAL */
	{ "SELECT u.id, o.amount FROM users u JOIN orders o ON u.id = o.user_id", NULL, false,
	  "MMRF" },
	{ "SELECT u.name, o.id FROM users u LEFT JOIN orders o ON u.id = o.user_id WHERE u.age > "
	  "40",
	  NULL, false, "MMRF" },
	{ "SELECT u.id, o.id FROM users u RIGHT JOIN orders o ON u.id = o.user_id", NULL, false,
	  NULL },
	{ "SELECT u.id, o.id FROM users u FULL OUTER JOIN orders o ON u.id = o.user_id", NULL,
	  false, NULL },
	{ "SELECT u.id, o.id FROM users u JOIN orders o ON u.id = o.user_id AND o.amount > u.score",
	  NULL, false, NULL },
	{ "SELECT u.id, o.id FROM users u JOIN orders o ON o.amount < u.age AND u.id < 10", NULL,
	  false, NULL },
	{ "SELECT u.country, SUM(o.amount) FROM users u JOIN orders o ON u.id = o.user_id "
	  "GROUP BY u.country",
	  NULL, false, NULL },
	{ "SELECT o.status, COUNT(*), AVG(o.amount) FROM orders o JOIN users u ON o.user_id = u.id "
	  "WHERE u.score > 30 GROUP BY o.status",
	  NULL, false, NULL },
	{ "SELECT u.country, COUNT(DISTINCT o.status) FROM users u JOIN orders o "
	  "ON u.id = o.user_id GROUP BY u.country",
	  NULL, false, NULL },
	{ "SELECT DISTINCT o.status FROM orders o JOIN users u ON o.user_id = u.id", NULL, false,
	  NULL },
	{ "SELECT u.id, o.amount FROM users u JOIN orders o ON u.id = o.user_id "
	  "ORDER BY o.amount DESC, o.id LIMIT 7",
	  NULL, true, NULL },
	{ "SELECT u.id, o.id FROM users u JOIN orders o ON u.score = o.user_id", NULL, false,
	  NULL },
	/* chains of joins: each further table joins in its own REDUCE */
	{ "SELECT u.name, o.amount, u2.country FROM users u JOIN orders o ON u.id = o.user_id "
	  "JOIN users u2 ON o.user_id = u2.id + 1",
	  NULL, false, "MMRMRF" },
	{ "SELECT u.country, COUNT(*), SUM(o.amount) FROM orders o JOIN users u "
	  "ON o.user_id = u.id LEFT JOIN orders o2 ON o2.id = o.id + 600 GROUP BY u.country",
	  NULL, false, "MMRMRRF" },
	{ "SELECT o.id, u.id, o2.id FROM orders o LEFT JOIN users u ON o.user_id = u.id "
	  "FULL JOIN orders o2 ON o2.user_id = u.age WHERE o.id < 100 OR o2.id < 50",
	  NULL, false, NULL },
	{ "SELECT a.id, b.id, c.name, d.amount FROM users a JOIN orders b ON a.id = b.user_id "
	  "JOIN users c ON c.id = a.id JOIN orders d ON d.id = b.id WHERE a.age > 50",
	  NULL, false, "MMRMRMRF" },
	{ "SELECT a.id, c.id FROM users a JOIN orders b ON a.id = b.user_id "
	  "JOIN users c ON c.age > a.age + 40 AND c.id < 5",
	  NULL, false, NULL },
	{ "SELECT DISTINCT u.country FROM users u JOIN orders o ON u.id = o.user_id "
	  "RIGHT JOIN users u2 ON u2.id = o.id WHERE u2.id < 40",
	  NULL, false, NULL },
	/* subqueries, UNION ALL, views: every table to FINAL */
	{ "SELECT s.c, s.n FROM (SELECT country AS c, COUNT(*) AS n FROM users GROUP BY country) s "
	  "WHERE s.n > 10",
	  NULL, false, "MF" },
	{ "SELECT id FROM users WHERE age < 25 UNION ALL SELECT user_id FROM orders "
	  "WHERE amount > 120",
	  NULL, false, "MRMRF" },
	{ "SELECT country, COUNT(*) FROM users GROUP BY country UNION ALL "
	  "SELECT status, SUM(amount) FROM orders GROUP BY status UNION ALL "
	  "SELECT DISTINCT name, 0 FROM users WHERE id < 20 UNION ALL "
	  "SELECT s.c, s.n FROM (SELECT country AS c, age AS n FROM users) s WHERE s.n > 60",
	  NULL, false, "MRRMRRMRRMRF" },
	{ "SELECT id FROM (SELECT id FROM users ORDER BY id DESC LIMIT 5) t UNION ALL "
	  "SELECT id FROM orders WHERE id < 3",
	  NULL, false, NULL },
	{ "SELECT v.id, v.name FROM v_rich v", "SELECT id, name FROM users WHERE score > 50", false,
	  "MF" },
	/* derived tables of row-by-row SELECTs run in the MAP */
	{ "SELECT c, COUNT(*) FROM (SELECT mask_email(email) AS c FROM users WHERE id > 10) s "
	  "GROUP BY c",
	  NULL, false, "MRF" },
	{ "SELECT x FROM (SELECT y + 1 AS x FROM (SELECT age AS y FROM users) a) b WHERE x > 30 "
	  "ORDER BY x LIMIT 20",
	  NULL, true, "MF" },
	{ "SELECT v.name, COUNT(*) FROM v_rich v GROUP BY v.name",
	  "SELECT name, COUNT(*) FROM users WHERE score > 50 GROUP BY name", false, "MRF" },
	{ "SELECT DISTINCT s.w FROM (SELECT t.v AS w FROM users LATERAL VIEW json_each(tags) t "
	  "AS k, v) s",
	  "SELECT DISTINCT t.value FROM users, json_each(users.tags) t", false, "MRF" },
	/* UDFs (native stand-ins, see the top of test_plan.c) */
	{ "SELECT mask_email(email) AS m FROM users", NULL, false, "MF" },
	{ "SELECT mask_email(email), COUNT(*) FROM users GROUP BY mask_email(email)", NULL, false,
	  "MRF" },
	{ "SELECT country, geomean(score) FROM users GROUP BY country", NULL, false, "MRF" },
	{ "SELECT geomean(score), COUNT(*) FROM users", NULL, false, "MRF" },
	{ "SELECT p1:geomean(o.amount), u.country FROM users u JOIN orders o ON u.id = o.user_id "
	  "GROUP BY u.country",
	  "SELECT geomean(o.amount), u.country FROM users u JOIN orders o ON u.id = o.user_id "
	  "GROUP BY u.country",
	  false, NULL },
	/* UDTFs: LATERAL VIEW and SELECT udtf(...) AS (...) */
	{ "SELECT id, t.v FROM users LATERAL VIEW json_each(tags) t AS k, v",
	  "SELECT users.id, t.value FROM users, json_each(users.tags) t", false, "MF" },
	{ "SELECT t.v, COUNT(*) FROM users LATERAL VIEW json_each(tags) t AS k, v GROUP BY t.v",
	  "SELECT t.value, COUNT(*) FROM users, json_each(users.tags) t GROUP BY t.value", false,
	  "MRF" },
	{ "SELECT json_each(tags) AS (k, v) FROM users WHERE id < 100",
	  "SELECT CAST(j.key AS TEXT), j.value FROM users, json_each(users.tags) j WHERE users.id "
	  "< 100",
	  false, "MF" },
	/* quoting: identifiers with quotes and blanks, values with quotes */
	{ "SELECT `we\"ird`, `sp ace` FROM odd WHERE `we\"ird` <> 'it''s' OR `sp ace` = 1",
	  "SELECT \"we\"\"ird\", \"sp ace\" FROM odd WHERE \"we\"\"ird\" <> 'it''s' OR \"sp ace\" "
	  "= 1",
	  false, "MF" },
	{ "SELECT `we\"ird` AS `a\"b`, COUNT(*) FROM odd GROUP BY `we\"ird`",
	  "SELECT \"we\"\"ird\", COUNT(*) FROM odd GROUP BY \"we\"\"ird\"", false, "MRF" },
	/* no FROM: FINAL alone */
	{ "SELECT 1 + 2 AS three, 'x' || 'y', 7 / 2", "SELECT 3, 'xy', 3.5", false, "F" },
	{ "SELECT 1e999 > 1e308, -9223372036854775808, 0.1 + 0.2",
	  "SELECT 1, -9223372036854775807 - 1, 0.1 + 0.2", false, "F" },
	/* INSERT: FINAL emits the target's data columns in table order, cast */
	{ "INSERT INTO sink SELECT id, name, score FROM users WHERE age > 30",
	  "SELECT id, name, score FROM users WHERE age > 30", false, "MF" },
	{ "INSERT INTO sink (c, a) SELECT score, age FROM users",
	  "SELECT age, NULL, score FROM users", false, "MF" },
	{ "INSERT OVERWRITE TABLE sink (b, a) SELECT country, COUNT(*) FROM users GROUP BY country",
	  "SELECT COUNT(*), country, NULL FROM users GROUP BY country", false, "MRF" },
	{ "INSERT INTO sink VALUES (1, 'x', 2.5), (2, NULL, NULL), (3, 'z', 4)",
	  "SELECT 1, 'x', 2.5 UNION ALL SELECT 2, NULL, NULL UNION ALL SELECT 3, 'z', 4.0", false,
	  "F" },
	{ "INSERT INTO sink SELECT id, name, score FROM users WHERE id < 50 UNION ALL "
	  "SELECT id, status, amount FROM orders WHERE id < 30",
	  "SELECT id, name, score FROM users WHERE id < 50 UNION ALL "
	  "SELECT id, status, amount FROM orders WHERE id < 30",
	  false, "MRMRF" },
};
