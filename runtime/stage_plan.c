/* runtime/stage_plan.c — strict parsing of a stage plan (docs/stage-plan.md).
 *
 * The plan comes from cordond, but it is parsed as if it came from anyone:
 * every field is typed and bounded, unknown fields are errors, names are
 * unique identifiers, fds are distinct and never 0-2. Strings are copied out
 * of the jansson tree, which is freed before returning.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "runtime/stage.h"

static const struct {
	const char *name;
	enum cmn_col_type type;
} type_names[] = {
	{ "BIGINT", CMN_COL_BIGINT },   { "DOUBLE", CMN_COL_DOUBLE },
	{ "BOOLEAN", CMN_COL_BOOLEAN }, { "STRING", CMN_COL_STRING },
	{ "BINARY", CMN_COL_BINARY },   { "DATETIME", CMN_COL_DATETIME },
};

const char *rt_plan_type_name(enum cmn_col_type t)
{
	for (size_t i = 0; i < CMN_ARRAY_SIZE(type_names); i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "?";
}

/* Fails on any key of o that is not in the NULL-terminated allowed list. */
static int check_keys(json_t *o, const char *what, const char *const *allowed, struct cmn_err *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: not an object", what);
	json_object_foreach(o, key, v)
	{
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (!allowed[i])
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: unknown field '%.64s'", what,
					   key);
	}
	return 0;
}

static int get_uint(json_t *o, const char *key, const char *what, uint64_t max, bool required,
		    uint64_t *out, struct cmn_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (required)
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: missing '%s'", what, key);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: '%s' must be an integer in 0..%llu",
				   what, key, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A name: [A-Za-z0-9_.-]{1,128}, not "." or "..", not starting with '-'. */
static bool name_ok(const char *s, bool allow_dot)
{
	size_t n = strlen(s);

	if (n == 0 || n > RT_PLAN_MAX_NAME || s[0] == '-')
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (allow_dot && (c == '.' || c == '-'))))
			return false;
	}
	return true;
}

static int get_str(json_t *o, const char *key, const char *what, size_t max, bool required,
		   char **out, struct cmn_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (required)
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: missing '%s'", what, key);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "%s: '%s' must be a string of at most %zu bytes", what, key,
				   max);
	*out = strdup(json_string_value(v));
	if (!*out)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	return 0;
}

static int get_name(json_t *o, const char *key, const char *what, bool allow_dot, char **out,
		    struct cmn_err *err)
{
	if (get_str(o, key, what, RT_PLAN_MAX_NAME, true, out, err) < 0)
		return -1;
	if (!name_ok(*out, allow_dot)) {
		cmn_err_set(err, CMN_EINVAL, 0, "%s: bad %s '%.64s'", what, key, *out);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int get_array(json_t *o, const char *key, const char *what, size_t max, bool required,
		     json_t **out, struct cmn_err *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: missing '%s'", what, key);
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) > max)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: '%s' must be an array of at most %zu",
				   what, key, max);
	*out = v;
	return 0;
}

static int parse_fd(json_t *o, const char *what, int *fd, struct cmn_err *err)
{
	uint64_t v = 0;

	if (get_uint(o, "fd", what, RT_FD_MAX, true, &v, err) < 0)
		return -1;
	if (v < 3)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: fd %llu is a standard stream", what,
				   (unsigned long long)v);
	*fd = (int)v;
	return 0;
}

static int parse_cols(json_t *arr, const char *what, struct rt_plan_cols *cols, bool need_one,
		      struct cmn_err *err)
{
	static const char *const keys[] = { "name", "type", NULL };
	size_t i;
	json_t *c;

	if (!json_is_array(arr) || json_array_size(arr) > RT_MAX_COLS ||
	    (need_one && json_array_size(arr) == 0))
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: columns must be an array of 1..%d",
				   what, RT_MAX_COLS);
	cols->v = calloc(json_array_size(arr) + 1, sizeof(*cols->v));
	if (!cols->v)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, c)
	{
		const char *t;
		size_t k;
		cols->n = i + 1;
		if (check_keys(c, what, keys, err) < 0 ||
		    get_name(c, "name", what, false, &cols->v[i].name, err) < 0)
			return -1;
		t = json_string_value(json_object_get(c, "type"));
		for (k = 0; t && k < CMN_ARRAY_SIZE(type_names); k++)
			if (strcmp(t, type_names[k].name) == 0)
				break;
		if (!t || k == CMN_ARRAY_SIZE(type_names))
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: column '%s': bad type", what,
					   cols->v[i].name);
		cols->v[i].type = type_names[k].type;
		/* inputs are SQLite tables (unique names); a query's output may
		 * repeat a name (SELECT a.id, b.id ...), as SQL allows */
		for (size_t j = 0; strcmp(what, "output") != 0 && j < i; j++)
			if (strcasecmp(cols->v[j].name, cols->v[i].name) == 0)
				return cmn_err_set(err, CMN_EINVAL, 0, "%s: duplicate column '%s'",
						   what, cols->v[i].name);
	}
	return 0;
}

static int parse_inputs(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = { "table", "columns", "source", "computed", NULL };
	static const char *const src_keys[] = { "fd", "upstream", NULL };
	json_t *arr, *in;
	size_t i;

	if (get_array(root, "inputs", "inputs", RT_PLAN_MAX_INPUTS, true, &arr, err) < 0)
		return -1;
	p->inputs = calloc(json_array_size(arr) + 1, sizeof(*p->inputs));
	if (!p->inputs)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, in)
	{
		struct rt_plan_input *x = &p->inputs[i];
		json_t *src;
		uint64_t k = 0;

		x->fd = -1;
		p->ninputs = i + 1;
		if (check_keys(in, "input", keys, err) < 0 ||
		    get_name(in, "table", "input", false, &x->table, err) < 0 ||
		    parse_cols(json_object_get(in, "columns"), "input", &x->cols, true, err) < 0)
			return cmn_err_wrap(err, "inputs[%zu]", i);
		src = json_object_get(in, "source");
		if (check_keys(src, "source", src_keys, err) < 0)
			return cmn_err_wrap(err, "inputs[%zu]", i);
		if (json_object_get(src, "fd") && json_object_get(src, "upstream"))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "inputs[%zu]: source is fd or upstream, not both", i);
		if (json_object_get(src, "fd")) {
			if (parse_fd(src, "source", &x->fd, err) < 0)
				return cmn_err_wrap(err, "inputs[%zu]", i);
		} else if (get_uint(src, "upstream", "source", RT_PLAN_MAX_UPSTREAM, true, &k,
				    err) < 0 ||
			   k == 0) {
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "inputs[%zu]: source needs fd or upstream 1..%d", i,
					   RT_PLAN_MAX_UPSTREAM);
		}
		x->upstream = (unsigned)k;
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(p->inputs[j].table, x->table) == 0)
				return cmn_err_set(err, CMN_EINVAL, 0, "duplicate input table '%s'",
						   x->table);
	}
	return 0;
}

static int parse_files(json_t *root, const char *key, struct rt_plan_file **out, size_t *n,
		       struct cmn_err *err)
{
	static const char *const keys[] = { "name", "fd", NULL };
	json_t *arr, *f;
	size_t i;

	if (get_array(root, key, key, RT_PLAN_MAX_FILES, false, &arr, err) < 0)
		return -1;
	*out = calloc((arr ? json_array_size(arr) : 0) + 1, sizeof(**out));
	if (!*out)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, f)
	{
		(*out)[i].fd = -1;
		*n = i + 1;
		if (check_keys(f, key, keys, err) < 0 ||
		    get_name(f, "name", key, true, &(*out)[i].name, err) < 0 ||
		    parse_fd(f, key, &(*out)[i].fd, err) < 0)
			return cmn_err_wrap(err, "%s[%zu]", key, i);
		for (size_t j = 0; j < i; j++)
			if (strcmp((*out)[j].name, (*out)[i].name) == 0)
				return cmn_err_set(err, CMN_EINVAL, 0, "%s: duplicate name '%s'",
						   key, (*out)[i].name);
	}
	return 0;
}

static int parse_function(json_t *f, struct rt_plan *p, struct rt_plan_function *x,
			  struct cmn_err *err)
{
	static const char *const keys[] = { "name", "kind", "script", "entry", "columns", NULL };
	cleanup_free char *kind = NULL;
	json_t *cols, *c;
	size_t i;
	bool found = false;

	if (check_keys(f, "function", keys, err) < 0 ||
	    get_name(f, "name", "function", false, &x->name, err) < 0 ||
	    get_name(f, "kind", "function", false, &kind, err) < 0 ||
	    get_name(f, "script", "function", true, &x->script, err) < 0 ||
	    get_name(f, "entry", "function", false, &x->entry, err) < 0)
		return -1;
	if (strcmp(kind, "scalar") == 0)
		x->kind = RT_UDF_SCALAR;
	else if (strcmp(kind, "aggregate") == 0)
		x->kind = RT_UDF_AGGREGATE;
	else if (strcmp(kind, "table") == 0)
		x->kind = RT_UDF_TABLE;
	else
		return cmn_err_set(err, CMN_EINVAL, 0, "function '%s': bad kind", x->name);
	for (i = 0; i < p->nscripts; i++)
		found |= strcmp(p->scripts[i].name, x->script) == 0;
	if (!found)
		return cmn_err_set(err, CMN_EINVAL, 0, "function '%s': no script '%s'", x->name,
				   x->script);
	if (get_array(f, "columns", "function", RT_MAX_COLS, x->kind == RT_UDF_TABLE, &cols, err) <
	    0)
		return -1;
	if ((x->kind == RT_UDF_TABLE) != (cols != NULL) || (cols && json_array_size(cols) == 0))
		return cmn_err_set(
		    err, CMN_EINVAL, 0,
		    "function '%s': columns are for (and required by) table functions", x->name);
	x->columns = calloc((cols ? json_array_size(cols) : 0) + 1, sizeof(char *));
	if (!x->columns)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(cols, i, c)
	{
		const char *s = json_string_value(c);
		if (!s || !name_ok(s, false))
			return cmn_err_set(err, CMN_EINVAL, 0, "function '%s': bad column name",
					   x->name);
		x->columns[i] = strdup(s);
		if (!x->columns[i])
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		x->ncolumns = i + 1;
	}
	return 0;
}

static int parse_functions(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	json_t *arr, *f;
	size_t i;

	if (get_array(root, "functions", "functions", RT_PLAN_MAX_FUNCTIONS, false, &arr, err) < 0)
		return -1;
	p->functions = calloc((arr ? json_array_size(arr) : 0) + 1, sizeof(*p->functions));
	if (!p->functions)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, f)
	{
		p->nfunctions = i + 1;
		if (parse_function(f, p, &p->functions[i], err) < 0)
			return cmn_err_wrap(err, "functions[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(p->functions[j].name, p->functions[i].name) == 0)
				return cmn_err_set(err, CMN_EINVAL, 0, "duplicate function '%s'",
						   p->functions[i].name);
	}
	return 0;
}

/* ---- computed columns ---- */

static int parse_carg(json_t *a, const struct rt_plan_input *in, struct rt_plan_carg *x,
		      struct cmn_err *err)
{
	static const char *const keys[] = { "col", "lit", NULL };
	json_t *col = json_object_get(a, "col"), *lit = json_object_get(a, "lit");
	uint64_t c = 0;

	x->col = -1;
	if (check_keys(a, "argument", keys, err) < 0)
		return -1;
	if ((col != NULL) == (lit != NULL))
		return cmn_err_set(err, CMN_EINVAL, 0, "argument: exactly one of col and lit");
	if (col) {
		if (get_uint(a, "col", "argument", in->cols.n ? in->cols.n - 1 : 0, true, &c, err) <
			0 ||
		    c >= in->cols.n)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "argument: col must be a column index in 0..%zu",
					   in->cols.n - 1);
		x->col = (int)c;
		return 0;
	}
	if (json_is_null(lit)) {
		x->lit.type = RT_T_NULL;
	} else if (json_is_integer(lit)) {
		x->lit.type = RT_T_BIGINT;
		x->lit.v.i = (int64_t)json_integer_value(lit);
	} else if (json_is_real(lit)) {
		x->lit.type = RT_T_DOUBLE;
		x->lit.v.d = json_real_value(lit);
	} else if (json_is_string(lit)) {
		if (json_string_length(lit) > RT_PLAN_MAX_BYTES)
			return cmn_err_set(err, CMN_EINVAL, 0, "argument: literal too long");
		x->lit_str = malloc(json_string_length(lit) + 1);
		if (!x->lit_str)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		memcpy(x->lit_str, json_string_value(lit), json_string_length(lit) + 1);
		x->lit.type = RT_T_STRING;
		x->lit.v.s.p = x->lit_str;
		x->lit.v.s.len = json_string_length(lit);
	} else {
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "argument: lit must be null, a number or a string");
	}
	return 0;
}

static int parse_one_computed(json_t *c, const struct rt_plan *p, const struct rt_plan_input *in,
			      struct rt_plan_computed *x, struct cmn_err *err)
{
	static const char *const keys[] = { "name", "function", "args", NULL };
	cleanup_free char *fn = NULL;
	json_t *args, *a;
	size_t i;

	if (check_keys(c, "computed", keys, err) < 0 ||
	    get_name(c, "name", "computed", false, &x->name, err) < 0 ||
	    get_name(c, "function", "computed", false, &fn, err) < 0 ||
	    get_array(c, "args", "computed", RT_COMPUTED_MAX_ARGS, true, &args, err) < 0)
		return -1;
	for (i = 0; i < in->cols.n; i++)
		if (strcasecmp(in->cols.v[i].name, x->name) == 0)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "computed '%s': the input has a column of that name",
					   x->name);
	for (i = 0; i < p->nfunctions; i++)
		if (strcmp(p->functions[i].name, fn) == 0)
			break;
	if (i == p->nfunctions)
		return cmn_err_set(err, CMN_EINVAL, 0, "computed '%s': unknown function '%s'",
				   x->name, fn);
	if (p->functions[i].kind != RT_UDF_SCALAR)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "computed '%s': function '%s' is not a scalar", x->name, fn);
	x->function = i;
	x->args = calloc(json_array_size(args) + 1, sizeof(*x->args));
	if (!x->args)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(args, i, a)
	{
		x->nargs = (int)i + 1;
		if (parse_carg(a, in, &x->args[i], err) < 0)
			return cmn_err_wrap(err, "computed '%s': args[%zu]", x->name, i);
	}
	return 0;
}

/* After functions: each computed column names a scalar function of the plan. */
static int parse_computed(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	json_t *inputs = json_object_get(root, "inputs");

	for (size_t i = 0; i < p->ninputs; i++) {
		struct rt_plan_input *in = &p->inputs[i];
		json_t *arr, *c;
		size_t k;
		if (get_array(json_array_get(inputs, i), "computed", "input", RT_PLAN_MAX_COMPUTED,
			      false, &arr, err) < 0)
			return cmn_err_wrap(err, "inputs[%zu]", i);
		if (!arr)
			continue;
		if (in->cols.n + json_array_size(arr) > RT_MAX_COLS)
			return cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "inputs[%zu]: more than %d columns with the computed ones", i,
			    RT_MAX_COLS);
		in->computed = calloc(json_array_size(arr) + 1, sizeof(*in->computed));
		if (!in->computed)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		json_array_foreach(arr, k, c)
		{
			in->ncomputed = k + 1;
			if (parse_one_computed(c, p, in, &in->computed[k], err) < 0)
				return cmn_err_wrap(err, "inputs[%zu].computed[%zu]", i, k);
			for (size_t j = 0; j < k; j++)
				if (strcasecmp(in->computed[j].name, in->computed[k].name) == 0)
					return cmn_err_set(err, CMN_EINVAL, 0,
							   "inputs[%zu]: duplicate computed '%s'",
							   i, in->computed[k].name);
		}
	}
	return 0;
}

static int parse_limits(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = {
		"udf_memory",       "udf_instructions", "udf_cpu_ms", "output_bytes",
		"hello_timeout_ms", "network",          NULL
	};
	json_t *l = json_object_get(root, "limits");
	uint64_t cpu_ms = 0;

	p->hello_timeout_ms = 10000;
	if (!l || json_is_null(l))
		goto fill;
	if (check_keys(l, "limits", keys, err) < 0 ||
	    get_uint(l, "udf_memory", "limits", 1ull << 40, false, &p->limits.memory_bytes, err) <
		0 ||
	    get_uint(l, "udf_instructions", "limits", 1ull << 50, false, &p->limits.instructions,
		     err) < 0 ||
	    get_uint(l, "udf_cpu_ms", "limits", 86400000ull, false, &cpu_ms, err) < 0 ||
	    get_uint(l, "output_bytes", "limits", 1ull << 50, false, &p->output_bytes, err) < 0 ||
	    get_uint(l, "hello_timeout_ms", "limits", 3600000ull, false, &p->hello_timeout_ms,
		     err) < 0)
		return -1;
	/* the job holds a network link grant: the UDFs get net.connect (what it
	 * reaches is decided by the overlay's rules, not here) */
	if (json_object_get(l, "network") && !json_is_boolean(json_object_get(l, "network")))
		return cmn_err_set(err, CMN_EINVAL, 0, "limits.network must be true or false");
	p->limits.net_grant = json_is_true(json_object_get(l, "network"));
fill:
	p->limits.cpu_ns = cpu_ms * 1000000ull;
	rt_limits_fill(&p->limits);
	return 0;
}

/* "10.77.3.2:7000" or "[::1]:7000" -> host, port. */
static int parse_addr(const char *s, struct rt_plan_peer *out, struct cmn_err *err)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *he;
	uint64_t port = 0;

	if (!colon || !colon[1] || strlen(colon + 1) > 5)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad address '%.64s'", s);
	he = colon;
	if (s[0] == '[') {
		if (colon == s || colon[-1] != ']')
			return cmn_err_set(err, CMN_EINVAL, 0, "bad address '%.64s'", s);
		h = s + 1;
		he = colon - 1;
	}
	for (const char *c = colon + 1; *c; c++) {
		if (*c < '0' || *c > '9')
			return cmn_err_set(err, CMN_EINVAL, 0, "bad port in '%.64s'", s);
		port = port * 10 + (uint64_t)(*c - '0');
	}
	if (port == 0 || port > 65535 || he == h || he - h > 45)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad address '%.64s'", s);
	out->host = strndup(h, (size_t)(he - h));
	out->port = strdup(colon + 1);
	if (!out->host || !out->port)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (const char *c = out->host; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
		      (*c >= 'A' && *c <= 'F') || *c == '.' || *c == ':'))
			return cmn_err_set(err, CMN_EINVAL, 0, "address '%.64s' is not numeric", s);
	return 0;
}

static int parse_partition(json_t *part, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = { "keys", "peers", "input", NULL };
	json_t *arr, *v;
	uint64_t input = 0;
	size_t i;

	if (check_keys(part, "partition", keys, err) < 0 ||
	    get_array(part, "keys", "partition", RT_MAX_COLS, true, &arr, err) < 0 ||
	    get_uint(part, "input", "partition", RT_PLAN_MAX_INPUTS - 1, true, &input, err) < 0)
		return -1;
	p->sink_input = (unsigned)input;
	p->keys = calloc(json_array_size(arr) + 1, sizeof(size_t));
	if (!p->keys)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (size_t)json_integer_value(v) >= p->out_cols.n)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "partition: keys must be output column indexes");
		p->keys[i] = (size_t)json_integer_value(v);
		p->nkeys = i + 1;
	}
	if (get_array(part, "peers", "partition", RT_PLAN_MAX_PEERS, true, &arr, err) < 0)
		return -1;
	if (json_array_size(arr) == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "partition: no peers");
	p->peers = calloc(json_array_size(arr) + 1, sizeof(*p->peers));
	if (!p->peers)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, v)
	{
		p->npeers = i + 1;
		if (!json_is_string(v) || parse_addr(json_string_value(v), &p->peers[i], err) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "partition: peers[%zu] is not an "
					   "address",
					   i);
	}
	return 0;
}

static int parse_output(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = { "columns", "sink", NULL };
	static const char *const sink_keys[] = { "fd", "partition", NULL };
	json_t *o = json_object_get(root, "output"), *sink;

	p->sink_fd = -1;
	if (check_keys(o, "output", keys, err) < 0 ||
	    parse_cols(json_object_get(o, "columns"), "output", &p->out_cols, true, err) < 0)
		return -1;
	sink = json_object_get(o, "sink");
	if (check_keys(sink, "sink", sink_keys, err) < 0)
		return -1;
	if (json_object_size(sink) != 1)
		return cmn_err_set(err, CMN_EINVAL, 0, "sink: exactly one of fd, partition");
	if (json_object_get(sink, "fd"))
		return parse_fd(sink, "sink", &p->sink_fd, err);
	return parse_partition(json_object_get(sink, "partition"), p, err);
}

static int parse_transform(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = { "argv", "columns", NULL };
	json_t *t = json_object_get(root, "transform"), *arr, *a;
	size_t i;

	if (!t || json_is_null(t))
		return 0;
	p->has_transform = true;
	if (check_keys(t, "transform", keys, err) < 0 ||
	    get_array(t, "argv", "transform", RT_PLAN_MAX_ARGV, true, &arr, err) < 0)
		return -1;
	if (json_array_size(arr) == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "transform: empty argv");
	p->argv = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (!p->argv)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	json_array_foreach(arr, i, a)
	{
		const char *s = json_string_value(a);
		if (!s || strlen(s) != json_string_length(a) || strlen(s) > 4096 ||
		    (i == 0 && !s[0]))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "transform: argv[%zu] is not a string", i);
		p->argv[i] = strdup(s);
		if (!p->argv[i])
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		p->argc = i + 1;
	}
	return parse_cols(json_object_get(t, "columns"), "transform", &p->transform_cols, true,
			  err);
}

/* fds must be distinct: two uses of one fd would interleave streams. */
static int check_fds(const struct rt_plan *p, struct cmn_err *err)
{
	int fds[RT_PLAN_MAX_INPUTS + 2 * RT_PLAN_MAX_FILES + 1];
	size_t n = 0;

	for (size_t i = 0; i < p->ninputs; i++)
		if (p->inputs[i].fd >= 0)
			fds[n++] = p->inputs[i].fd;
	for (size_t i = 0; i < p->nscripts; i++)
		fds[n++] = p->scripts[i].fd;
	for (size_t i = 0; i < p->nresources; i++)
		fds[n++] = p->resources[i].fd;
	if (p->sink_fd >= 0)
		fds[n++] = p->sink_fd;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (fds[i] == fds[j])
				return cmn_err_set(err, CMN_EINVAL, 0, "fd %d is used twice",
						   fds[i]);
	return 0;
}

static int parse_head(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	static const char *const keys[] = { "version",    "job",        "stage",  "stage_index",
					    "node_index", "node_count", "inputs", "functions",
					    "scripts",    "resources",  "limits", "sql",
					    "transform",  "output",     "listen", NULL };
	uint64_t version = 0, v = 0;

	if (check_keys(root, "top level", keys, err) < 0 ||
	    get_uint(root, "version", "top level", 1000, true, &version, err) < 0)
		return -1;
	if (version != 1)
		return cmn_err_set(err, CMN_EINVAL, 0, "unsupported version %llu",
				   (unsigned long long)version);
	if (get_name(root, "job", "top level", true, &p->job, err) < 0 ||
	    get_name(root, "stage", "top level", false, &p->stage, err) < 0)
		return -1;
	if (strcmp(p->stage, "map") && strcmp(p->stage, "reduce") && strcmp(p->stage, "final"))
		return cmn_err_set(err, CMN_EINVAL, 0, "stage must be map, reduce or final");
	if (get_uint(root, "stage_index", "top level", 1000, true, &v, err) < 0)
		return -1;
	p->stage_index = (unsigned)v;
	if (get_uint(root, "node_count", "top level", 4096, true, &v, err) < 0 || v == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "node_count must be 1..4096");
	p->node_count = (unsigned)v;
	if (get_uint(root, "node_index", "top level", p->node_count - 1, true, &v, err) < 0)
		return -1;
	p->node_index = (unsigned)v;
	return 0;
}

static int parse_root(json_t *root, struct rt_plan *p, struct cmn_err *err)
{
	json_t *listen;
	bool upstream = false;

	if (parse_head(root, p, err) < 0 || parse_inputs(root, p, err) < 0 ||
	    parse_files(root, "scripts", &p->scripts, &p->nscripts, err) < 0 ||
	    parse_files(root, "resources", &p->resources, &p->nresources, err) < 0 ||
	    parse_functions(root, p, err) < 0 || parse_computed(root, p, err) < 0 ||
	    parse_limits(root, p, err) < 0 ||
	    get_str(root, "sql", "top level", 1u << 20, true, &p->sql, err) < 0 ||
	    parse_transform(root, p, err) < 0 || parse_output(root, p, err) < 0 ||
	    check_fds(p, err) < 0)
		return -1;
	if (p->has_transform && p->transform_cols.n != p->out_cols.n)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "transform columns and output columns differ in number");
	for (size_t i = 0; i < p->ninputs; i++)
		upstream |= p->inputs[i].fd < 0;
	listen = json_object_get(root, "listen");
	if (listen && !json_is_null(listen)) {
		if (!json_is_string(listen) ||
		    parse_addr(json_string_value(listen), &p->listen, err) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "listen is not an address");
	}
	if (upstream != (p->listen.host != NULL))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "listen is required exactly when an input is upstream");
	return 0;
}

int rt_plan_parse(const char *text, size_t len, struct rt_plan *plan, struct cmn_err *err)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(plan, 0, sizeof(*plan));
	plan->sink_fd = -1;
	if (len > RT_PLAN_MAX_BYTES)
		return cmn_err_set(err, CMN_EINVAL, 0, "larger than %u bytes", RT_PLAN_MAX_BYTES);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cmn_err_set(err, CMN_EINVAL, 0, "line %d column %d: %s", jerr.line,
				   jerr.column, jerr.text);
	rc = parse_root(root, plan, err);
	json_decref(root);
	if (rc < 0) {
		rt_plan_free(plan);
		return -1;
	}
	return 0;
}

static void free_cols(struct rt_plan_cols *c)
{
	for (size_t i = 0; c->v && i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static void free_files(struct rt_plan_file *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		free(f[i].name);
	free(f);
}

void rt_plan_free(struct rt_plan *p)
{
	free(p->job);
	free(p->stage);
	for (size_t i = 0; p->inputs && i < p->ninputs; i++) {
		free(p->inputs[i].table);
		free_cols(&p->inputs[i].cols);
		for (size_t k = 0; p->inputs[i].computed && k < p->inputs[i].ncomputed; k++) {
			struct rt_plan_computed *c = &p->inputs[i].computed[k];
			free(c->name);
			for (int j = 0; c->args && j < c->nargs; j++)
				free(c->args[j].lit_str);
			free(c->args);
		}
		free(p->inputs[i].computed);
	}
	free(p->inputs);
	for (size_t i = 0; p->functions && i < p->nfunctions; i++) {
		struct rt_plan_function *f = &p->functions[i];
		free(f->name);
		free(f->script);
		free(f->entry);
		for (size_t j = 0; f->columns && j < f->ncolumns; j++)
			free(f->columns[j]);
		free(f->columns);
	}
	free(p->functions);
	free_files(p->scripts, p->nscripts);
	free_files(p->resources, p->nresources);
	free(p->sql);
	for (size_t i = 0; p->argv && i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free_cols(&p->transform_cols);
	free_cols(&p->out_cols);
	free(p->keys);
	for (size_t i = 0; p->peers && i < p->npeers; i++) {
		free(p->peers[i].host);
		free(p->peers[i].port);
	}
	free(p->peers);
	free(p->listen.host);
	free(p->listen.port);
	memset(p, 0, sizeof(*p));
	p->sink_fd = -1;
}
