/* runtime/udf_node.c — `cordon-node udf`: runs one UDF over JSON lines, the
 * way `cordon udf run` (and the tests of the inner wall) drive it.
 *
 *   cordon-node udf --script-fd N --script-name NAME --function F
 *                   [--input-fd N] [--memory B] [--instructions N]
 *                   [--cpu-time DUR] [--output-bytes B] [--seed N]
 *                   [--resource NAME=FD]... [--describe]
 *
 * --describe: load the script, resolve F and print one JSON line
 * {"kind": "scalar|aggregate|table", "signature": "a,b->r" or null,
 *  "args": [...] or null (any), "returns": [...]} instead of calling it.
 * cordond runs this in the container for CREATE FUNCTION: the kind and
 * signature come from what the script's top level returns, which only
 * running it can tell, and cordond never runs tenant Lua itself.
 *
 * Input: JSON lines, streamed, each an array of arguments (no --input-fd:
 * one call with no arguments). Scalar: one JSON value per input line.
 * Aggregate: the lines go alternately into two buffers; both are serialized
 * to plain data, read back, merged and terminated, so every run exercises
 * what a MAP -> REDUCE job does. Table function: one JSON array
 * per forwarded row. print() output goes to stderr.
 * Exit: 0 ok, 1 UDF error ("SCRIPT:LINE: message"), 2 usage or bad input,
 * 3 limit ("cordon: udf: limit exceeded: NAME").
 */
#define _GNU_SOURCE
#include "runtime/udf_node.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "runtime/udf_abi.h"
#include "runtime/udf_json.h"

#define MAX_RESOURCES 32

struct node_opts {
	int script_fd;
	const char *script_name;
	const char *function;
	int input_fd;
	struct rt_limits lim;
	struct rt_resource res[MAX_RESOURCES];
	size_t nres;
	bool describe;
};

struct node {
	struct rt_udf *u;
	FILE *out;
	FILE *in; /* NULL: no input, one call without arguments */
	int agg_a, agg_b;
	long agg_seen;
};

/* A line longer than this is bad input, not something to buffer. */
#define MAX_LINE (64u << 20)

static void node_usage(FILE *out)
{
	fprintf(out, "usage: cordon-node udf --script-fd N --script-name NAME --function F\n"
		     "         [--input-fd N] [--memory SIZE] [--instructions N] [--cpu-time DUR]\n"
		     "         [--output-bytes SIZE] [--seed N] [--resource NAME=FD]...\n");
}

static int parse_fd(const char *s, int *fd, struct cmn_err *err)
{
	uint64_t v;

	if (cmn_parse_u64(s, &v, err) < 0 || v > 1024)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad fd '%s'", s);
	*fd = (int)v;
	return 0;
}

static int add_resource(struct node_opts *o, char *arg, struct cmn_err *err)
{
	char *eq = strchr(arg, '=');

	if (!eq || o->nres >= MAX_RESOURCES)
		return cmn_err_set(err, CMN_EINVAL, 0, "--resource wants NAME=FD (at most %d)",
				   MAX_RESOURCES);
	*eq = '\0';
	o->res[o->nres].name = arg;
	if (parse_fd(eq + 1, &o->res[o->nres].fd, err) < 0)
		return -1;
	o->nres++;
	return 0;
}

static int parse_opts(int argc, char **argv, struct node_opts *o, struct cmn_err *err)
{
	static const struct option opts[] = {
		{ "script-fd", required_argument, NULL, 's' },
		{ "script-name", required_argument, NULL, 'n' },
		{ "function", required_argument, NULL, 'f' },
		{ "input-fd", required_argument, NULL, 'i' },
		{ "memory", required_argument, NULL, 'm' },
		{ "instructions", required_argument, NULL, 'I' },
		{ "cpu-time", required_argument, NULL, 'c' },
		{ "output-bytes", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'S' },
		{ "resource", required_argument, NULL, 'r' },
		{ "describe", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	o->script_fd = o->input_fd = -1;
	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			rc = parse_fd(optarg, &o->script_fd, err);
			break;
		case 'n':
			o->script_name = optarg;
			break;
		case 'f':
			o->function = optarg;
			break;
		case 'i':
			rc = parse_fd(optarg, &o->input_fd, err);
			break;
		case 'm':
			rc = cmn_parse_size(optarg, &o->lim.memory_bytes, err);
			break;
		case 'I':
			rc = cmn_parse_u64(optarg, &o->lim.instructions, err);
			break;
		case 'c':
			rc = cmn_parse_duration(optarg, &o->lim.cpu_ns, err);
			break;
		case 'o':
			rc = cmn_parse_size(optarg, &o->lim.output_bytes, err);
			break;
		case 'S':
			rc = cmn_parse_u64(optarg, &o->lim.seed, err);
			break;
		case 'r':
			rc = add_resource(o, optarg, err);
			break;
		case 'D':
			o->describe = true;
			break;
		default:
			return cmn_err_set(err, CMN_EINVAL, 0, "unknown option");
		}
	}
	if (rc < 0)
		return -1;
	if (o->script_fd < 0 || !o->function)
		return cmn_err_set(err, CMN_EINVAL, 0, "--script-fd and --function are required");
	if (!o->script_name)
		o->script_name = "udf.lua";
	rt_limits_fill(&o->lim);
	return 0;
}

static int read_all(int fd, size_t max, struct cmn_buf *out, struct cmn_err *err)
{
	cmn_buf_init(out, max);
	return cmn_buf_read_fd(out, fd, err);
}

/* Exit status for a failed call, after telling stderr why. */
static int report(struct node *n, const struct cmn_err *err, long line)
{
	struct cmn_buf *log = rt_lua_log(rt_udf_lua(n->u));

	if (log->len) {
		ssize_t w = write(STDERR_FILENO, log->data, log->len);
		(void)w;
		cmn_buf_reset(log);
	}
	if (err->code == CMN_ELIMIT) {
		fprintf(stderr, "cordon: udf: limit exceeded: %s\n",
			rt_limit_name(rt_udf_limit_hit(n->u)));
		return RT_NODE_EXIT_LIMIT;
	}
	if (line > 0)
		fprintf(stderr, "%s (input line %ld)\n", err->msg, line);
	else
		fprintf(stderr, "%s\n", err->msg);
	return CMN_EXIT_FAIL;
}

static void drain_log(struct node *n)
{
	struct cmn_buf *log = rt_lua_log(rt_udf_lua(n->u));

	if (log->len) {
		fflush(n->out);
		ssize_t w = write(STDERR_FILENO, log->data, log->len);
		(void)w;
		cmn_buf_reset(log);
	}
}

static int emit(void *ud, const struct rt_value *cols, int ncols, struct cmn_err *err)
{
	struct node *n = ud;

	if (rt_json_write_row(n->out, cols, ncols, true, err) < 0)
		return -1;
	return 0;
}

/* One input line -> args. Returns 0, or an exit status. */
static int parse_line(struct node *n, const char *text, size_t len, long line, json_t **holder,
		      struct rt_value *args, int *nargs)
{
	struct cmn_err err = CMN_ERR_INIT;

	if (rt_json_parse_args(text, len, rt_udf_signature(n->u), holder, args, nargs, &err) < 0) {
		fprintf(stderr, "cordon: udf: input line %ld: %s\n", line, err.msg);
		return err.code == CMN_EINVAL ? CMN_EXIT_USAGE : CMN_EXIT_FAIL;
	}
	return 0;
}

typedef int (*line_fn)(struct node *n, const struct rt_value *args, int nargs, long line);

/* Calls fn for every non-empty line of input, streaming (or once with no
 * arguments when there is no input). */
static int for_each_line(struct node *n, line_fn fn)
{
	struct rt_value args[RT_MAX_COLS];
	cleanup_free char *text = NULL;
	size_t cap = 0;
	ssize_t len;
	long line = 0;
	int nargs, rc;

	if (!n->in)
		return fn(n, NULL, 0, 0);
	while ((len = getline(&text, &cap, n->in)) >= 0) {
		json_t *holder = NULL;

		line++;
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if ((size_t)len > MAX_LINE) {
			fprintf(stderr, "cordon: udf: input line %ld: longer than %u bytes\n", line,
				MAX_LINE);
			return CMN_EXIT_USAGE;
		}
		rc = parse_line(n, text, (size_t)len, line, &holder, args, &nargs);
		if (rc == 0)
			rc = fn(n, args, nargs, line);
		json_decref(holder);
		if (rc)
			return rc;
	}
	if (ferror(n->in)) {
		fprintf(stderr, "cordon-node: udf: read input: %s\n", strerror(errno));
		return CMN_EXIT_USAGE;
	}
	return 0;
}

static int scalar_line(struct node *n, const struct rt_value *args, int nargs, long line)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;

	if (rt_udf_call(n->u, args, nargs, &out, &err) < 0)
		return report(n, &err, line);
	drain_log(n);
	if (rt_json_write_row(n->out, &out, 1, false, &err) < 0)
		return report(n, &err, line);
	return 0;
}

static int table_line(struct node *n, const struct rt_value *args, int nargs, long line)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc = rt_udf_process(n->u, args, nargs, emit, n, &err);

	drain_log(n);
	return rc < 0 ? report(n, &err, line) : 0;
}

/* Every other line goes to the second buffer, so both get data and the
 * merge runs on real halves, without holding the input. */
static int agg_line(struct node *n, const struct rt_value *args, int nargs, long line)
{
	struct cmn_err err = CMN_ERR_INIT;
	int buf = n->agg_seen++ % 2 == 0 ? n->agg_a : n->agg_b;

	if (rt_udf_agg_iterate(n->u, buf, args, nargs, &err) < 0)
		return report(n, &err, line);
	drain_log(n);
	return 0;
}

/* Serializes a buffer and reads it back as a new one, as a node boundary. */
static int roundtrip(struct node *n, int *buf, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf bytes = { 0 };
	int copy;

	if (rt_udf_agg_serialize(n->u, *buf, &bytes, err) < 0 ||
	    rt_udf_agg_deserialize(n->u, bytes.data, bytes.len, &copy, err) < 0)
		return -1;
	rt_udf_agg_free(n->u, *buf);
	*buf = copy;
	return 0;
}

static int run_aggregate(struct node *n)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;
	int rc;

	if (rt_udf_agg_new(n->u, &n->agg_a, &err) < 0 || rt_udf_agg_new(n->u, &n->agg_b, &err) < 0)
		return report(n, &err, 0);
	if (n->in && (rc = for_each_line(n, agg_line)) != 0)
		return rc;
	if (roundtrip(n, &n->agg_a, &err) < 0 || roundtrip(n, &n->agg_b, &err) < 0 ||
	    rt_udf_agg_merge(n->u, n->agg_a, n->agg_b, &err) < 0 ||
	    rt_udf_agg_terminate(n->u, n->agg_a, &out, &err) < 0)
		return report(n, &err, 0);
	drain_log(n);
	if (rt_json_write_row(n->out, &out, 1, false, &err) < 0)
		return report(n, &err, 0);
	return 0;
}

/* --describe: the resolved UDF as one JSON line on stdout. */
static int describe(struct node *n)
{
	const struct rt_signature *sig = rt_udf_signature(n->u);
	json_t *args = NULL, *rets = json_array(), *o;
	char text[1024] = "";
	size_t len = 0;
	int rc;

	if (sig->present && !sig->any_args) {
		args = json_array();
		for (int i = 0; args && i < sig->nargs; i++) {
			json_array_append_new(args, json_string(rt_type_name(sig->args[i])));
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s",
						i ? "," : "", rt_type_name(sig->args[i]));
		}
	} else if (sig->present) {
		len += (size_t)snprintf(text, sizeof(text), "*");
	}
	if (sig->present)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "->");
	for (int i = 0; sig->present && rets && i < sig->nret && len < sizeof(text); i++) {
		json_array_append_new(rets, json_string(rt_type_name(sig->ret[i])));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", i ? "," : "",
					rt_type_name(sig->ret[i]));
	}
	o = json_pack("{s:s, s:o, s:o, s:o}", "kind", rt_udf_kind_name(rt_udf_kind(n->u)),
		      "signature", sig->present ? json_string(text) : json_null(), "args",
		      args ? args : json_null(), "returns", rets ? rets : json_array());
	rc = o && json_dumpf(o, n->out, JSON_COMPACT) == 0 && fputc('\n', n->out) != EOF
		 ? CMN_EXIT_OK
		 : CMN_EXIT_FAIL;
	json_decref(o);
	return rc;
}

static int run(struct node *n)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc;

	switch (rt_udf_kind(n->u)) {
	case RT_UDF_SCALAR:
		return for_each_line(n, scalar_line);
	case RT_UDF_AGGREGATE:
		return run_aggregate(n);
	case RT_UDF_TABLE:
		rc = for_each_line(n, table_line);
		if (rc)
			return rc;
		rc = rt_udf_table_close(n->u, emit, n, &err);
		drain_log(n);
		return rc < 0 ? report(n, &err, 0) : 0;
	}
	return CMN_EXIT_FAIL;
}

int rt_node_udf_main(int argc, char **argv)
{
	struct node_opts o;
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf script = { 0 };
	struct rt_udf_source src;
	struct node n = { .out = stdout };
	int rc;

	if (parse_opts(argc, argv, &o, &err) < 0) {
		fprintf(stderr, "cordon-node: udf: %s\n", err.msg);
		node_usage(stderr);
		return CMN_EXIT_USAGE;
	}
	if (read_all(o.script_fd, (size_t)o.lim.string_bytes, &script, &err) < 0) {
		fprintf(stderr, "cordon-node: udf: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	/* the CPU budget covers loading the script and the whole batch */
	if (rt_cpu_arm(o.lim.cpu_ns, 0, true, RT_NODE_EXIT_LIMIT, &err) < 0) {
		fprintf(stderr, "cordon-node: udf: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	src = (struct rt_udf_source){ o.script_name, script.data, script.len, o.function,
				      &o.lim,        o.res,       o.nres };
	if (rt_udf_open(&src, &n.u, &err) < 0) {
		if (err.code == CMN_ELIMIT) {
			fprintf(stderr, "cordon: udf: %s\n", err.msg);
			return RT_NODE_EXIT_LIMIT;
		}
		fprintf(stderr, "%s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	if (o.input_fd >= 0 && !(n.in = fdopen(o.input_fd, "r"))) {
		fprintf(stderr, "cordon-node: udf: fdopen input: %s\n", strerror(errno));
		rt_udf_free(n.u);
		return CMN_EXIT_FAIL;
	}
	rc = o.describe ? describe(&n) : run(&n);
	if (n.in)
		fclose(n.in);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "cordon-node: udf: write stdout: %s\n", strerror(errno));
		rc = CMN_EXIT_FAIL;
	}
	rt_cpu_arm(0, 0, false, 0, NULL);
	rt_udf_free(n.u);
	return rc;
}
