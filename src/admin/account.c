/* Console accounts in the store's meta table: "admin/NAME" -> the hash of
 * the password, "" once removed (meta rows are never deleted). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_impl.h"
#include "aead.h"

#define ACCOUNT_KEY_MAX (6 + CY_NAME_MAX + 1)
#define ACCOUNT_PW_MAX 128

static void account_key(const char *name, char key[ACCOUNT_KEY_MAX])
{
	snprintf(key, ACCOUNT_KEY_MAX, "admin/%s", name);
}

int admin_account_set(struct store *st, const char *name, const char *password, char *err,
		      size_t errlen)
{
	char key[ACCOUNT_KEY_MAX], hash[PWHASH_MAX];
	size_t len = strlen(password);
	int rc;

	if (!cy_label_ok(name))
		return admin_err(err, errlen, -EINVAL,
				 "'%s' is not a valid account name: one DNS label, lowercase "
				 "a-z, 0-9 and '-', at most %d characters", name, CY_NAME_MAX);
	if (len < 8 || len > ACCOUNT_PW_MAX)
		return admin_err(err, errlen, -EINVAL, "the password must have 8 to %d characters",
				 ACCOUNT_PW_MAX);
	if (pwhash_create(password, hash) < 0)
		return admin_err(err, errlen, -EIO, "cannot hash the password");
	account_key(name, key);
	rc = store_meta_set(st, key, hash);
	cy_wipe(hash, sizeof(hash));
	if (rc < 0)
		return admin_err(err, errlen, -EIO, "store: cannot save the account: %s",
				 strerror(-rc));
	return 0;
}

int admin_account_hash(struct store *st, const char *name, char hash[PWHASH_MAX])
{
	char key[ACCOUNT_KEY_MAX];
	int rc;

	hash[0] = '\0';
	if (!cy_label_ok(name))
		return -ENOENT;
	account_key(name, key);
	rc = store_meta_get(st, key, hash, PWHASH_MAX);
	if (rc == -ENOENT || (rc == 0 && !hash[0]))
		return -ENOENT;
	return rc < 0 ? -EIO : 0;
}

int admin_account_remove(struct store *st, const char *name)
{
	char key[ACCOUNT_KEY_MAX], hash[PWHASH_MAX];
	int rc = admin_account_hash(st, name, hash);

	cy_wipe(hash, sizeof(hash));
	if (rc < 0)
		return rc;
	account_key(name, key);
	return store_meta_set(st, key, "") < 0 ? -EIO : 0;
}

/* A hash no password matches, to spend the same time on unknown names. */
static char decoy[PWHASH_MAX];
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;

static void decoy_make(void)
{
	uint8_t r[16];
	char pw[40];

	cy_random(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(pw + 2 * i, 3, "%02x", r[i]);
	if (pwhash_create(pw, decoy) < 0)
		decoy[0] = '\0';
}

int admin_account_check(struct store *st, const char *name, const char *password,
			char hash[PWHASH_MAX])
{
	bool known, ok;
	int rc;

	pthread_once(&decoy_once, decoy_make);
	if (!decoy[0])
		return -EIO;   /* without it an unknown name would answer faster */
	rc = strlen(password) <= ACCOUNT_PW_MAX ? admin_account_hash(st, name, hash) : -ENOENT;
	if (rc == -EIO)
		return -EIO;
	known = rc == 0;
	ok = pwhash_verify(password, known ? hash : decoy);
	if (known && ok)
		return 0;
	cy_wipe(hash, PWHASH_MAX);
	return -EACCES;
}
