/* common/log.h — leveled logging to stderr, as text or JSON lines.
 *
 * Text:  "2026-11-27T18:49:50.123Z cordond warn: message"
 * JSON:  {"time":"...","prog":"cordond","level":"warn","msg":"message"}
 * Never log key material or secrets; the logger cannot know what is secret.
 */
#ifndef CMN_LOG_H
#define CMN_LOG_H

#include <stdbool.h>

enum cmn_log_level { CMN_LOG_DEBUG = 0, CMN_LOG_INFO, CMN_LOG_WARN, CMN_LOG_ERROR, CMN_LOG_OFF };

void cmn_log_init(const char *prog, enum cmn_log_level level, bool json);
void cmn_log_set_fd(int fd); /* default 2 */
enum cmn_log_level cmn_log_get_level(void);
/* "debug", "info", "warn", "error", "off". Returns -1 if unknown. */
int cmn_log_level_parse(const char *s, enum cmn_log_level *out);
const char *cmn_log_level_name(enum cmn_log_level level);
void cmn_log(enum cmn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cmn_debug(...) cmn_log(CMN_LOG_DEBUG, __VA_ARGS__)
#define cmn_info(...) cmn_log(CMN_LOG_INFO, __VA_ARGS__)
#define cmn_warn(...) cmn_log(CMN_LOG_WARN, __VA_ARGS__)
#define cmn_error(...) cmn_log(CMN_LOG_ERROR, __VA_ARGS__)

#endif
