#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *log_prog = "cyphonic";
static enum log_level log_lvl = LOG_LVL_INFO;

#define RL_INTERVAL 10
#define RL_BURST 5

void log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_lvl = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_level(enum log_level level) { log_lvl = level; }

enum log_level log_level_from_string(const char *s, bool *ok)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	*ok = true;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i]))
			return (enum log_level)i;
	*ok = false;
	return LOG_LVL_INFO;
}

int log_level_parse(const char *v, char *out, size_t outsz, char *err, size_t errlen)
{
	bool ok;

	log_level_from_string(v, &ok);
	if (!ok || strlen(v) >= outsz) {
		snprintf(err, errlen, "must be error, warn, info or debug, not '%s'", v);
		return -1;
	}
	strcpy(out, v);
	return 0;
}

static void vlog(enum log_level lvl, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vlog(enum log_level lvl, int err, const char *fmt, va_list ap)
{
	static const char *tags[] = { "error", "warning", "info", "debug" };
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s%s%s\n", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000, log_prog, tags[lvl], line,
		err ? ": " : "", err ? strerror(err) : "");
}

void log_msg(enum log_level lvl, bool with_errno, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (lvl > log_lvl)
		return;
	va_start(ap, fmt);
	vlog(lvl, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	abort();
}

bool ratelimit_ok(struct ratelimit *rl)
{
	time_t now = time(NULL);

	if (now - rl->window_start >= RL_INTERVAL) {
		if (rl->suppressed)
			log_msg(LOG_LVL_WARN, false, "(%u similar messages suppressed)",
				rl->suppressed);
		rl->window_start = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < RL_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
