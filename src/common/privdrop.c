#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

int privdrop_user_parse(char *out, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v), i;

	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
		      v[i] == '_' || v[i] == '-'))
			break;
	if (n == 0 || n > PRIVDROP_USER_MAX || v[0] == '-' || i < n) {
		snprintf(err, errlen, "'%s' is not a user name (1..%d of a-z, 0-9, '_', '-')", v,
			 PRIVDROP_USER_MAX);
		return -1;
	}
	memcpy(out, v, n + 1);
	return 0;
}

static bool kept(cap_value_t c, const cap_value_t *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == c)
			return true;
	return false;
}

/* The capabilities of keep that this process has (permitted). */
static size_t have(const cap_value_t *keep, size_t n, cap_value_t *out)
{
	cap_t now = cap_get_proc();
	cap_flag_value_t v;
	size_t m = 0;

	for (size_t i = 0; now && i < n; i++)
		if (cap_get_flag(now, keep[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			out[m++] = keep[i];
	cap_free(now);
	return m;
}

static int become(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *p = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &p);

	if (rc || !p) {
		snprintf(err, errlen, "no user '%s'%s%s", user, rc ? ": " : "",
			 rc ? strerror(rc) : "");
		return -1;
	}
	if (p->pw_uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "cannot become user '%s': not started as root", user);
		return -1;
	}
	/* Keep the permitted capabilities across the change of uid; the
	 * caller's set is applied right after. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &p->pw_gid) < 0 ||
	    setresgid(p->pw_gid, p->pw_gid, p->pw_gid) < 0 ||
	    setresuid(p->pw_uid, p->pw_uid, p->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become user '%s': %s", user, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

int privdrop(const char *user, const cap_value_t *keep, size_t n, char *err, size_t errlen)
{
	cap_value_t mine[CAP_LAST_CAP + 1];
	size_t m;
	cap_t caps;
	char *text;
	int rc = -1;

	if (n > CAP_LAST_CAP + 1) {
		snprintf(err, errlen, "too many capabilities");
		return -1;
	}
	m = have(keep, n, mine);
	/* The bounding set first, while CAP_SETPCAP may still be ours. */
	if (CAP_IS_SUPPORTED(CAP_SETPCAP)) {
		for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
			if (!kept(c, mine, m) && CAP_IS_SUPPORTED(c) && cap_get_bound(c) == 1 &&
			    cap_drop_bound(c) < 0 && errno != EPERM) {
				snprintf(err, errlen, "cannot drop capability %d from the bounding "
					 "set: %s", (int)c, strerror(errno));
				return -1;
			}
	}
	if (user && user[0] && become(user, err, errlen) < 0)
		return -1;
	caps = cap_init();
	if (!caps || (m && (cap_set_flag(caps, CAP_PERMITTED, (int)m, mine, CAP_SET) < 0 ||
			    cap_set_flag(caps, CAP_EFFECTIVE, (int)m, mine, CAP_SET) < 0)) ||
	    cap_set_proc(caps) < 0) {
		snprintf(err, errlen, "cannot set the capabilities: %s", strerror(errno));
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		goto out;
	}
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* A changed uid makes the process undumpable, and LeakSanitizer
	 * then cannot read its own /proc/self at exit. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	text = cap_to_text(caps, NULL);
	log_info("privileges: uid %u, gid %u, capabilities %s", (unsigned)getuid(),
		 (unsigned)getgid(), text && strcmp(text, "=") ? text : "none");
	cap_free(text);
	rc = 0;
out:
	cap_free(caps);
	return rc;
}
