/* common/log.c — see log.h. One write(2) per record so lines from several
 * processes sharing a stderr do not interleave. */
#include "common/log.h"
#include "common/io.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
	char prog[64];
	enum cmn_log_level level;
	bool json;
	int fd;
} logger = { "cordon", CMN_LOG_INFO, false, 2 };

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

void cmn_log_init(const char *prog, enum cmn_log_level level, bool json)
{
	snprintf(logger.prog, sizeof(logger.prog), "%s", prog ? prog : "cordon");
	logger.level = level;
	logger.json = json;
}

void cmn_log_set_fd(int fd)
{
	logger.fd = fd;
}

enum cmn_log_level cmn_log_get_level(void)
{
	return logger.level;
}

const char *cmn_log_level_name(enum cmn_log_level level)
{
	if ((unsigned)level > CMN_LOG_OFF)
		return "?";
	return level_names[level];
}

int cmn_log_level_parse(const char *s, enum cmn_log_level *out)
{
	for (int i = 0; i <= CMN_LOG_OFF; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cmn_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = CMN_LOG_WARN;
		return 0;
	}
	return -1;
}

static void timestamp(char *out, size_t n)
{
	struct timeval tv;
	struct tm tm;
	size_t k;
	unsigned ms;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	ms = (unsigned)(tv.tv_usec / 1000) % 1000u;
	if (k + 6 <= n) {
		out[k++] = '.';
		out[k++] = (char)('0' + ms / 100);
		out[k++] = (char)('0' + ms / 10 % 10);
		out[k++] = (char)('0' + ms % 10);
		out[k++] = 'Z';
		out[k] = '\0';
	}
}

void cmn_log(enum cmn_log_level level, const char *fmt, ...)
{
	char msg[2048], ts[40], line[4096];
	va_list ap;
	int n;

	if (level < logger.level || level >= CMN_LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	timestamp(ts, sizeof(ts));

	if (logger.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "prog", logger.prog,
				      "level", level_names[level], "msg", msg);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		if (s) {
			n = snprintf(line, sizeof(line), "%s\n", s);
		} else {
			/* msg was not valid UTF-8 (jansson refuses it): say so rather than drop it
			 */
			n = snprintf(line, sizeof(line),
				     "{\"time\":\"%s\",\"prog\":\"%s\",\"level\":\"%s\","
				     "\"msg\":\"(message not valid UTF-8)\"}\n",
				     ts, logger.prog, level_names[level]);
		}
		free(s);
		json_decref(o);
	} else {
		n = snprintf(line, sizeof(line), "%s %s %s: %s\n", ts, logger.prog,
			     level_names[level], msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)cmn_write_all(logger.fd, line, (size_t)n, NULL); /* logging never fails the caller */
}
