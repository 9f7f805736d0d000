/*
 * log.h -- tallyd's log: one timestamped, leveled line per call on stderr.
 *
 *   2025-01-31T12:00:00.123Z info  drain: 1200 events ...
 *
 * Lines are written with a single fprintf under the stream lock, so lines
 * from different threads never interleave.  Never pass a raw client IP
 * address to these functions: tallyd never sees one, keep it that way.
 */
#ifndef TALLY_AGG_LOG_H
#define TALLY_AGG_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the lowest level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; returns 0 and sets *level, or
 * -1 for anything else. */
int log_level_parse(const char *s, enum log_level *level);

/* Prints one line at `level` if it is enabled.  printf-style. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
