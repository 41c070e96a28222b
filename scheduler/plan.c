/* scheduler/plan.c — stage plan JSON (docs/stage-plan.md), the wiring,
 * EXPLAIN text, the partition hash; see plan.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/plan_int.h"

static void cols_free(struct sch_plan_cols *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
}

void sch_plan_free(struct sch_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct sch_plan_stage *st = &p->v[i];
		for (size_t j = 0; j < st->ninputs; j++) {
			free(st->inputs[j].table);
			free(st->inputs[j].scan_project);
			free(st->inputs[j].scan_table);
			cols_free(&st->inputs[j].cols);
			pb_udfcols_free(&st->inputs[j]);
		}
		free(st->inputs);
		free(st->sql);
		cols_free(&st->out);
		cols_free(&st->sql_out);
		free(st->keys);
		for (size_t j = 0; j < st->nfns; j++)
			free(st->fn_refs[j]);
		free(st->fn_refs);
		for (size_t j = 0; j < st->argc; j++)
			free(st->argv[j]);
		free(st->argv);
		for (size_t j = 0; j < st->resources.n; j++)
			free(st->resources.v[j]);
		free(st->resources.v);
	}
	free(p->v);
	free(p->project);
	memset(p, 0, sizeof(*p));
}

/* ---- hash ----------------------------------------------------------------- */

uint64_t sch_plan_hash_init(void)
{
	return 0xcbf29ce484222325ULL;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t sch_plan_hash_value(uint64_t h, enum sch_q_type type, bool is_null, int64_t i, double d,
			     const void *bytes, size_t len)
{
	unsigned char tag = is_null ? 0 : (unsigned char)type, buf[8];

	h = fnv(h, &tag, 1);
	if (is_null)
		return h;
	switch (type) {
	case SCH_QT_DOUBLE: {
		uint64_t u;
		if (d == 0.0)
			d = 0.0; /* -0.0 hashes as 0.0 */
		memcpy(&u, &d, 8);
		for (int k = 0; k < 8; k++)
			buf[k] = (unsigned char)(u >> (8 * k));
		return fnv(h, buf, 8);
	}
	case SCH_QT_BOOLEAN:
		buf[0] = i ? 1 : 0;
		return fnv(h, buf, 1);
	case SCH_QT_STRING:
	case SCH_QT_BINARY:
		h = fnv(h, bytes, len);
		buf[0] = 0xff;
		return fnv(h, buf, 1);
	default: /* BIGINT, DATETIME */
		for (int k = 0; k < 8; k++)
			buf[k] = (unsigned char)((uint64_t)i >> (8 * k));
		return fnv(h, buf, 8);
	}
}

/* ---- JSON --------------------------------------------------------------------- */

static const char *kind_name(enum sch_stage_kind k)
{
	return k == SCH_STAGE_MAP ? "map" : k == SCH_STAGE_REDUCE ? "reduce" : "final";
}

static json_t *cols_json(const struct sch_plan_cols *c)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < c->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", c->v[i].name, "type",
						   sch_q_type_name(c->v[i].type)));
	return a;
}

static const struct sch_funcdef *fn_def(const struct sch_plan *p, const char *ref)
{
	for (size_t i = 0; p->res && i < p->res->nfns; i++)
		if (strcmp(p->res->fns[i].ref, ref) == 0)
			return p->res->fns[i].def;
	return NULL;
}

static bool in_list(json_t *a, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (strcmp(json_string_value(json_object_get(v, "name")),
					       name) == 0) return true;
	return false;
}

int sch_plan_script_name(const struct sch_funcdef *d, const char *project, char *out, size_t outlen)
{
	int n = strcmp(d->project, project) == 0
		    ? snprintf(out, outlen, "%s", d->script)
		    : snprintf(out, outlen, "%s__%s", d->project, d->script);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* functions, scripts and resources of one stage */
static int fn_json(const struct sch_plan *p, const struct sch_plan_stage *st, json_t *node)
{
	json_t *fns = json_array(), *scripts = json_array(), *res = json_array();
	static const char *const kinds[] = { "", "scalar", "aggregate", "table" };

	json_object_set_new(node, "functions", fns);
	json_object_set_new(node, "scripts", scripts);
	json_object_set_new(node, "resources", res);
	if (!fns || !scripts || !res)
		return -1;
	for (size_t i = 0; i < st->nfns; i++) {
		const struct sch_funcdef *d = fn_def(p, st->fn_refs[i]);
		char name[300], script[300];
		json_t *f;
		if (!d || sch_plan_fn_name(st->fn_refs[i], p->project, name, sizeof(name)) < 0 ||
		    sch_plan_script_name(d, p->project, script, sizeof(script)) < 0)
			return -1;
		f = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "kind", kinds[d->kind],
			      "script", script, "entry", d->entry);
		if (!f)
			return -1;
		if (d->kind == SCH_FN_TABLE) {
			json_t *c = json_array();
			for (size_t k = 0; c && k < d->columns.n; k++)
				json_array_append_new(c, json_string(d->columns.v[k]));
			json_object_set_new(f, "columns", c);
		}
		json_array_append_new(fns, f);
		if (!in_list(scripts, script))
			json_array_append_new(scripts,
					      json_pack("{s:s, s:n}", "name", script, "fd"));
		for (size_t k = 0; k < d->resources.n; k++)
			if (strcmp(d->resources.v[k], d->script) != 0 &&
			    !in_list(res, d->resources.v[k]))
				json_array_append_new(
				    res, json_pack("{s:s, s:n}", "name", d->resources.v[k], "fd"));
	}
	for (size_t k = 0; k < st->resources.n; k++)
		if (!in_list(res, st->resources.v[k]))
			json_array_append_new(
			    res, json_pack("{s:s, s:n}", "name", st->resources.v[k], "fd"));
	return 0;
}

static json_t *sink_json(const struct sch_plan *p, const struct sch_plan_stage *st)
{
	json_t *keys, *part;
	if (st->to_stage < 0)
		return json_pack("{s:n}", "fd");
	/* to a 1-node stage: no keys, every row goes to its one peer */
	keys = json_array();
	for (size_t i = 0; keys && i < st->nkeys; i++)
		json_array_append_new(keys, json_integer((json_int_t)st->keys[i]));
	part = json_pack("{s:o, s:n, s:i}", "keys", keys, "peers", "input", st->to_input);
	return part ? json_pack("{s:o}", "partition", part) : NULL;
}

int sch_plan_node_json(const struct sch_plan *p, size_t stage, int node, const char *job,
		       json_t **out, struct cmn_err *err)
{
	const struct sch_plan_stage *st;
	json_t *n, *inputs, *output;

	if (stage >= p->n || node < 0 || node >= p->v[stage].nodes)
		return cmn_err_set(err, CMN_EINVAL, 0, "no node %d in stage %zu", node, stage);
	st = &p->v[stage];
	n = json_pack("{s:i, s:s, s:s, s:i, s:i, s:i, s:s, s:n, s:n}", "version", 1, "job", job,
		      "stage", kind_name(st->kind), "stage_index", (int)stage, "node_index", node,
		      "node_count", st->nodes, "sql", st->sql, "transform", "listen");
	inputs = json_array();
	if (!n || !inputs)
		goto oom;
	json_object_set_new(n, "inputs", inputs);
	for (size_t i = 0; i < st->ninputs; i++) {
		const struct sch_plan_input *in = &st->inputs[i];
		json_t *src = in->upstream < 0
				  ? json_pack("{s:n}", "fd")
				  : json_pack("{s:i}", "upstream", p->v[in->upstream].nodes);
		json_t *o = json_pack("{s:s, s:o, s:o}", "table", in->table, "columns",
				      cols_json(&in->cols), "source", src);
		if (!o || json_array_append_new(inputs, o) < 0)
			goto oom;
		if (in->ncomputed) {
			json_t *c = pb_udfcols_json(p, in, err);
			if (!c) {
				json_decref(n);
				return -1;
			}
			json_object_set_new(o, "computed", c);
		}
	}
	if (fn_json(p, st, n) < 0)
		goto oom;
	output = json_pack("{s:o, s:o}", "columns", cols_json(&st->out), "sink", sink_json(p, st));
	if (!output)
		goto oom;
	json_object_set_new(n, "output", output);
	json_object_set_new(n, "limits", json_object());
	if (st->argc) {
		json_t *argv = json_array();
		for (size_t i = 0; argv && i < st->argc; i++)
			json_array_append_new(argv, json_string(st->argv[i]));
		json_object_set_new(
		    n, "transform",
		    json_pack("{s:o, s:o}", "argv", argv, "columns", cols_json(&st->out)));
		json_object_set_new(output, "columns", cols_json(&st->out));
	}
	*out = n;
	return 0;
oom:
	json_decref(n);
	return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

int sch_plan_wiring_json(const struct sch_plan *p, json_t **out, struct cmn_err *err)
{
	json_t *stages = json_array();
	if (!stages)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < p->n; i++) {
		const struct sch_plan_stage *st = &p->v[i];
		json_t *ins = json_array(), *o;
		for (size_t j = 0; ins && j < st->ninputs; j++) {
			const struct sch_plan_input *in = &st->inputs[j];
			json_t *cols = json_array();
			for (size_t c = 0; cols && c < in->cols.n; c++)
				json_array_append_new(cols, json_string(in->cols.v[c].name));
			if (in->upstream < 0)
				json_array_append_new(
				    ins, json_pack("{s:s, s:{s:s, s:s, s:o}}", "table", in->table,
						   "scan", "project", in->scan_project, "table",
						   in->scan_table, "columns", cols));
			else
				json_array_append_new(ins, json_pack("{s:s, s:i, s:i}", "table",
								     in->table, "stage",
								     in->upstream, "senders",
								     p->v[in->upstream].nodes));
			if (in->upstream >= 0)
				json_decref(cols);
		}
		o = st->to_stage < 0 ? json_pack("{s:s}", "to", "result")
				     : json_pack("{s:i, s:i, s:i}", "stage", st->to_stage, "input",
						 st->to_input, "keys", (int)st->nkeys);
		json_array_append_new(stages,
				      json_pack("{s:i, s:s, s:i, s:o, s:o}", "index", (int)i,
						"kind", kind_name(st->kind), "nodes", st->nodes,
						"inputs", ins, "output", o));
	}
	*out = json_pack("{s:o}", "stages", stages);
	return *out ? 0 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

char *sch_plan_explain(const struct sch_plan *p, struct cmn_err *err)
{
	struct cmn_buf b;
	static const char *const up[] = { "", "MAP", "REDUCE", "FINAL" };

	cmn_buf_init(&b, 0);
	for (size_t i = 0; i < p->n; i++) {
		const struct sch_plan_stage *st = &p->v[i];
		if (cmn_buf_printf(&b, err, "Stage %zu: %s x%d\n", i, up[st->kind], st->nodes) < 0)
			goto fail;
		for (size_t j = 0; j < st->ninputs; j++) {
			const struct sch_plan_input *in = &st->inputs[j];
			if (in->upstream < 0) {
				if (cmn_buf_printf(&b, err, "  input %s: scan %s.%s (", in->table,
						   in->scan_project, in->scan_table) < 0)
					goto fail;
				for (size_t c = 0; c < in->cols.n; c++)
					if (cmn_buf_printf(&b, err, "%s%s", c ? ", " : "",
							   in->cols.v[c].name) < 0)
						goto fail;
				if (cmn_buf_printf(&b, err,
						   "), slice node_index/%d of the chunks\n",
						   st->nodes) < 0)
					goto fail;
			} else if (cmn_buf_printf(
				       &b, err, "  input %s: from stage %d (%d senders)\n",
				       in->table, in->upstream, p->v[in->upstream].nodes) < 0) {
				goto fail;
			}
		}
		for (size_t j = 0; j < st->ninputs; j++)
			if (pb_udfcols_explain(p, &st->inputs[j], &b, err) < 0)
				goto fail;
		if (cmn_buf_printf(&b, err, "  sql: %s\n", st->sql) < 0)
			goto fail;
		for (size_t j = 0; j < st->argc; j++)
			if (cmn_buf_printf(&b, err, "%s%s%s", j ? " " : "  transform: ",
					   st->argv[j], j + 1 == st->argc ? "\n" : "") < 0)
				goto fail;
		if (st->to_stage < 0) {
			if (cmn_buf_printf(&b, err, "  output: result\n") < 0)
				goto fail;
		} else {
			if (cmn_buf_printf(&b, err, "  output: stage %d input %d", st->to_stage,
					   st->to_input) < 0)
				goto fail;
			for (size_t k = 0; k < st->nkeys; k++)
				if (cmn_buf_printf(&b, err, "%s%s", k ? ", " : ", hash on ",
						   st->out.v[st->keys[k]].name) < 0)
					goto fail;
			if (cmn_buf_printf(&b, err, "\n") < 0)
				goto fail;
		}
	}
	return cmn_buf_steal(&b, NULL);
fail:
	cmn_buf_free(&b);
	return NULL;
}
