#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

/* The capabilities of keep that this thread has (permitted); -1 when
 * they cannot be read. */
static int have(const cap_value_t *keep, size_t n, cap_value_t *out)
{
	cap_t now = cap_get_proc();
	cap_flag_value_t v;
	int m = 0;

	if (!now)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cap_get_flag(now, keep[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			out[m++] = keep[i];
	cap_free(now);
	return m;
}

/* Every capability but the m of mine out of the bounding set (while
 * CAP_SETPCAP is still ours; without it the set stays: said once). */
static int drop_bound(const cap_value_t *mine, size_t m, char *err, size_t errlen)
{
	static bool told;
	bool denied = false;

	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (kept(c, mine, m) || cap_get_bound(c) != 1 || cap_drop_bound(c) == 0)
			continue;
		if (errno != EPERM) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s",
				 (int)c, strerror(errno));
			return -1;
		}
		denied = true;
	}
	if (denied && !told) {
		told = true;
		log_warnx("privileges: started without CAP_SETPCAP, the bounding set stays as it "
			  "was (no_new_privs still keeps a program run from here from gaining any)");
	}
	return 0;
}

/* This thread's capabilities: exactly the m of mine, and no way back. */
static int set_caps(const cap_value_t *mine, size_t m, char *err, size_t errlen)
{
	cap_t caps = cap_init();
	int rc = -1;

	if (!caps || (m && (cap_set_flag(caps, CAP_PERMITTED, (int)m, mine, CAP_SET) < 0 ||
			    cap_set_flag(caps, CAP_EFFECTIVE, (int)m, mine, CAP_SET) < 0)) ||
	    cap_set_proc(caps) < 0)
		snprintf(err, errlen, "cannot set the capabilities: %s", strerror(errno));
	else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
	else
		rc = 0;
	cap_free(caps);
	return rc;
}

int privdrop_thread(void)
{
	char err[128];

	/* Capabilities are a thread's own: a thread started before the
	 * process dropped its own keeps them until it drops them too. */
	if (drop_bound(NULL, 0, err, sizeof(err)) < 0 || set_caps(NULL, 0, err, sizeof(err)) < 0) {
		log_warnx("privileges: worker thread: %s", err);
		return -1;
	}
	return 0;
}

int privdrop_state_dir(const char *file, const char *user, char *err, size_t errlen)
{
	struct passwd pw, *p = NULL;
	char buf[4096], dir[4096], *slash;
	struct stat st;

	if (!user || !user[0])
		return 0;
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &p) || !p) {
		snprintf(err, errlen, "no user '%s'", user);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0700) < 0 || chown(dir, p->pw_uid, p->pw_gid) < 0) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != p->pw_uid && !(st.st_mode & S_IWOTH) &&
	     !(st.st_gid == p->pw_gid && (st.st_mode & S_IWGRP)))) {
		snprintf(err, errlen, "%s: user %s cannot write there (for %s): chown it or set "
			 "another path", dir, user, file);
		return -1;
	}
	return 0;
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
	/* libpq finds its password file under HOME */
	setenv("HOME", p->pw_dir, 1);
	return 0;
}

int privdrop(const char *user, const cap_value_t *keep, size_t n, char *err, size_t errlen)
{
	cap_value_t mine[CAP_LAST_CAP + 1];
	cap_t caps;
	char *text;
	int m;

	if (n > CAP_LAST_CAP + 1) {
		snprintf(err, errlen, "too many capabilities");
		return -1;
	}
	m = have(keep, n, mine);
	if (m < 0) {
		snprintf(err, errlen, "cannot read the capabilities: %s", strerror(errno));
		return -1;
	}
	/* The bounding set first, while CAP_SETPCAP may still be ours. */
	if (drop_bound(mine, (size_t)m, err, errlen) < 0)
		return -1;
	if (user && user[0] && become(user, err, errlen) < 0)
		return -1;
	if (set_caps(mine, (size_t)m, err, errlen) < 0)
		return -1;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* A changed uid makes the process undumpable, and LeakSanitizer
	 * then cannot read its own /proc/self at exit. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	caps = cap_get_proc();
	text = caps ? cap_to_text(caps, NULL) : NULL;
	log_info("privileges: uid %u, gid %u, capabilities %s", (unsigned)getuid(),
		 (unsigned)getgid(), text && strcmp(text, "=") ? text : "none");
	cap_free(text);
	cap_free(caps);
	if (geteuid() == 0)
		log_info("privileges: still uid 0, which owns most of the system's files: set a "
			 "user in the config to run as another");
	return 0;
}
