/* scheduler/metrics.h — counters for GET /metrics (Prometheus text format
 * 0.0.4). cordond's API thread owns them; other modules add their figures
 * (nodes, storage repairs, ...) with sch_metrics_counter_add() and
 * sch_metrics_gauge_set() — a series appears once it is first touched.
 * Every function is thread-safe. */
#ifndef SCH_METRICS_H
#define SCH_METRICS_H

#include "common/buf.h"
#include "common/err.h"

void sch_metrics_request(int status, double seconds);
void sch_metrics_auth_failure(const char *code);
void sch_metrics_job(const char *state);
/* name: a metric name ([a-z_]+); labels: "" or 'k="v"' text (trusted,
 * written by code, never by a client). */
void sch_metrics_counter_add(const char *name, const char *help, const char *labels, double delta);
void sch_metrics_gauge_set(const char *name, const char *help, const char *labels, double value);
int sch_metrics_render(struct cmn_buf *out, struct cmn_err *err);

#endif
