/* Logging to stderr.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() is
 * for broken internal invariants only, never for bad input from outside.
 * Keys and passwords are never passed to these functions.
 *
 * On the packet path use LOG_RATELIMITED so a flood of bad packets costs
 * one line per interval, with the number suppressed. */
#ifndef CY_LOG_H
#define CY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_level_from_string(const char *s, bool *ok);
/* A config file's log_level value: checks v names a level and copies it
 * into out[outsz]; 0, or -1 with err saying what is wrong (the config
 * parser adds file, line and key). */
int log_level_parse(const char *v, char *out, size_t outsz, char *err, size_t errlen);

void log_msg(enum log_level lvl, bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)   log_msg(LOG_LVL_ERR, false, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, false, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, false, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, false, __VA_ARGS__)

struct ratelimit {
	time_t window_start;
	unsigned printed;
	unsigned suppressed;
};

/* True when a line may be printed now (at most 5 per 10 s per limiter). */
bool ratelimit_ok(struct ratelimit *rl);

#define LOG_RATELIMITED(rl, ...)                                   \
	do {                                                       \
		if (ratelimit_ok(rl))                              \
			log_msg(LOG_LVL_WARN, false, __VA_ARGS__); \
	} while (0)
/* The same for an informational line that someone else's packets can
 * make happen at their rate. */
#define LOG_RATELIMITED_INFO(rl, ...)                              \
	do {                                                       \
		if (ratelimit_ok(rl))                              \
			log_msg(LOG_LVL_INFO, false, __VA_ARGS__); \
	} while (0)

#endif
