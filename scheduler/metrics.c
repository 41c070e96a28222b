/* scheduler/metrics.c — see metrics.h. */
#include "scheduler/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				  0.05,   0.1,   0.25,   0.5,   1,    2.5 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* One lock for everything: updates are a few additions, and callers come
 * from the API workers and from other modules' threads. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long by_status[600];
static unsigned long long hist[NBUCKETS + 1];
static double latency_sum;
static unsigned long long latency_count;

#define MAX_SERIES 64
struct series {
	char name[64], help[128], labels[128];
	int gauge;
	double value;
};
static struct series series[MAX_SERIES];
static size_t series_count;

void sch_metrics_request(int status, double seconds)
{
	size_t i = 0;
	while (i < NBUCKETS && seconds > buckets[i])
		i++;
	pthread_mutex_lock(&mu);
	if (status >= 100 && status < 600)
		by_status[status]++;
	hist[i]++;
	latency_sum += seconds;
	latency_count++;
	pthread_mutex_unlock(&mu);
}

static struct series *find(const char *name, const char *help, const char *labels, int gauge)
{
	for (size_t i = 0; i < series_count; i++)
		if (strcmp(series[i].name, name) == 0 && strcmp(series[i].labels, labels) == 0)
			return &series[i];
	if (series_count == MAX_SERIES)
		return NULL;
	snprintf(series[series_count].name, sizeof(series[0].name), "%s", name);
	snprintf(series[series_count].help, sizeof(series[0].help), "%s", help);
	snprintf(series[series_count].labels, sizeof(series[0].labels), "%s", labels);
	series[series_count].gauge = gauge;
	return &series[series_count++];
}

void sch_metrics_counter_add(const char *name, const char *help, const char *labels, double delta)
{
	struct series *s;
	pthread_mutex_lock(&mu);
	s = find(name, help, labels, 0);
	if (s)
		s->value += delta;
	pthread_mutex_unlock(&mu);
}

void sch_metrics_gauge_set(const char *name, const char *help, const char *labels, double value)
{
	struct series *s;
	pthread_mutex_lock(&mu);
	s = find(name, help, labels, 1);
	if (s)
		s->value = value;
	pthread_mutex_unlock(&mu);
}

void sch_metrics_auth_failure(const char *code)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "code=\"%s\"", code);
	sch_metrics_counter_add("cordon_auth_failures_total",
				"Requests refused by authentication, by error code", labels, 1);
}

void sch_metrics_job(const char *state)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "state=\"%s\"", state);
	sch_metrics_counter_add("cordon_jobs_total", "Jobs by final state", labels, 1);
}

static int render_locked(struct cmn_buf *out, struct cmn_err *err);

int sch_metrics_render(struct cmn_buf *out, struct cmn_err *err)
{
	int rc;
	pthread_mutex_lock(&mu);
	rc = render_locked(out, err);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int render_locked(struct cmn_buf *out, struct cmn_err *err)
{
	unsigned long long cum = 0;

	if (cmn_buf_append_str(out,
			       "# HELP cordon_http_requests_total HTTP requests by status code\n"
			       "# TYPE cordon_http_requests_total counter\n",
			       err) < 0)
		return -1;
	for (int s = 100; s < 600; s++)
		if (by_status[s] &&
		    cmn_buf_printf(out, err, "cordon_http_requests_total{code=\"%d\"} %llu\n", s,
				   by_status[s]) < 0)
			return -1;
	if (cmn_buf_append_str(out,
			       "# HELP cordon_http_request_duration_seconds Request latency\n"
			       "# TYPE cordon_http_request_duration_seconds histogram\n",
			       err) < 0)
		return -1;
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += hist[i];
		if (cmn_buf_printf(out, err,
				   "cordon_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				   buckets[i], cum) < 0)
			return -1;
	}
	cum += hist[NBUCKETS];
	if (cmn_buf_printf(out, err,
			   "cordon_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			   "cordon_http_request_duration_seconds_sum %.6f\n"
			   "cordon_http_request_duration_seconds_count %llu\n",
			   cum, latency_sum, latency_count) < 0)
		return -1;
	/* The exposition format wants every series of a metric together. */
	for (size_t i = 0; i < series_count; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(series[j].name, series[i].name) == 0;
		if (seen)
			continue;
		if (cmn_buf_printf(out, err, "# HELP %s %s\n# TYPE %s %s\n", series[i].name,
				   series[i].help, series[i].name,
				   series[i].gauge ? "gauge" : "counter") < 0)
			return -1;
		for (size_t j = i; j < series_count; j++) {
			const struct series *s = &series[j];
			if (strcmp(s->name, series[i].name) != 0)
				continue;
			if (cmn_buf_printf(out, err, "%s%s%s%s %.17g\n", s->name,
					   s->labels[0] ? "{" : "", s->labels,
					   s->labels[0] ? "}" : "", s->value) < 0)
				return -1;
		}
	}
	return 0;
}
