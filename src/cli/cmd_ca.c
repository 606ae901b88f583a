/* cyphonic ca status|roll|switch|finish --dir DIR
 *
 * The cloud's CA and its roll, with two CAs trusted side by side
 * (docs/security.md, "Rolling the CA"):
 *   roll    a new CA: its key goes to CA_KEY.next, its certificate is
 *           added to the bundle [cloud] ca_cert, which still signs with
 *           the old.  Nodes learn the new CA at their next login.
 *   switch  the new CA signs: CA_KEY.next replaces CA_KEY (the old key
 *           is deleted).  The AS certificate is issued anew at once and
 *           nodes get certificates from the new CA at their next login.
 *   finish  the bundle keeps only the signing CA: certificates from the
 *           old one are no longer accepted.
 *   status  the CAs of the bundle, which one signs, and the AS
 *           certificate's end.
 * Each step tells the running cloud to read the files again. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "ca.h"
#include "cli.h"
#include "control.h"

struct ca_files {
	struct cloud_conf c;
	char next[CLOUD_PATH_MAX + 8];     /* the rolled-in CA's key, CA_KEY.next */
	struct ca_set ca;
};

static int ca_files_load(const char *dir, struct ca_files *f)
{
	char err[2 * CLOUD_PATH_MAX + 64];

	memset(f, 0, sizeof(*f));
	if (cli_cloud_conf(dir, &f->c) < 0)
		return -1;
	if (!f->c.ca_key[0]) {
		cli_fail("cloud.conf has no ca_key: this host holds no CA");
		return -1;
	}
	snprintf(f->next, sizeof(f->next), "%s.next", f->c.ca_key);
	if (ca_set_load(&f->ca, f->c.ca_cert, f->c.ca_key, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		return -1;
	}
	return 0;
}

/* The running cloud reads the CA files again; quiet when none runs. */
static void ca_tell_cloud(const struct cloud_conf *c)
{
	char reply[128] = "";

	if (!c->has_as || !c->control[0])
		return;
	if (control_query(c->control, "reload-ca", reply, sizeof(reply), 5000) < 0)
		printf("the cloud is not running: it reads the files when it starts\n");
	else if (strncmp(reply, "ok", 2))
		printf("the running cloud could not load them: %s", reply);
	else
		printf("the running cloud loaded them\n");
}

static const char *ca_date(const X509 *x, char buf[32])
{
	time_t t = (time_t)ca_not_after(x);
	struct tm tm;

	if (t < 0 || !gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, 32, "?");
	return buf;
}

static int ca_status(struct ca_files *f)
{
	char cn[256], date[32], err[CLOUD_PATH_MAX + 64];
	STACK_OF(X509) *as;

	for (int i = 0; i < sk_X509_num(f->ca.bundle); i++) {
		X509 *x = sk_X509_value(f->ca.bundle, i);

		if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) <= 0)
			snprintf(cn, sizeof(cn), "?");
		printf("CA %d: %s, until %s%s\n", i + 1, cn, ca_date(x, date),
		       !X509_cmp(x, f->ca.signer) ? ", signs" : "");
	}
	if (access(f->next, F_OK) == 0)
		printf("rolling: %s is the next CA's key ('cyphonic ca switch')\n", f->next);
	else if (sk_X509_num(f->ca.bundle) > 1)
		printf("rolling: the old CA is still trusted ('cyphonic ca finish')\n");
	as = ca_bundle_read(f->c.as_cert, err, sizeof(err));
	if (as) {
		printf("AS certificate: until %s, %s\n", ca_date(sk_X509_value(as, 0), date),
		       ca_issued_by(sk_X509_value(as, 0), f->ca.signer) ? "from the signing CA"
								    : "from another CA");
		sk_X509_pop_free(as, X509_free);
	}
	return CLI_OK;
}

static int ca_roll(struct ca_files *f)
{
	char label[CY_FQDN_MAX + 32], stamp[16];
	time_t now = time(NULL);
	struct tm tm;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = CLI_FAIL, err;

	if (access(f->next, F_OK) == 0)
		return cli_fail("a roll is under way (%s exists): 'cyphonic ca switch' next; if "
				"'cyphonic ca status' shows no second CA, an earlier roll stopped "
				"halfway: remove %s and roll again", f->next, f->next);
	if (sk_X509_num(f->ca.bundle) >= CA_BUNDLE_MAX)
		return cli_fail("%s already holds %d CAs: 'cyphonic ca finish' first",
				f->c.ca_cert, sk_X509_num(f->ca.bundle));
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	snprintf(label, sizeof(label), "%s %s", f->c.domain, stamp);
	key = ca_key_new();
	x = key ? ca_issue_root(key, label) : NULL;
	if (!x) {
		cli_fail("cannot make the new CA");
		goto out;
	}
	err = ca_write_key(f->next, key, 1);
	if (err < 0) {
		cli_fail("%s: %s", f->next, strerror(-err));
		goto out;
	}
	if (!sk_X509_push(f->ca.bundle, x)) {
		unlink(f->next);
		cli_fail("out of memory");
		goto out;
	}
	x = NULL;   /* the bundle holds it */
	err = ca_replace_certs(f->c.ca_cert, f->ca.bundle);
	if (err < 0) {
		unlink(f->next);
		cli_fail("%s: %s", f->c.ca_cert, strerror(-err));
		goto out;
	}
	printf("new CA 'CYPHONIC CA %s' trusted beside the old one; its key is %s\n", label,
	       f->next);
	ca_tell_cloud(&f->c);
	printf("next: once every node has logged in again (each does every key_lifetime, "
	       "%d s), run 'cyphonic ca switch'\n", f->c.key_lifetime);
	rc = CLI_OK;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int ca_switch(struct ca_files *f)
{
	char err[CLOUD_PATH_MAX + 64];
	EVP_PKEY *next;
	X509 *x;

	next = access(f->next, F_OK) == 0 ? ca_key_read(f->next, err, sizeof(err)) : NULL;
	if (!next)
		return access(f->next, F_OK) ? cli_fail("no roll under way (%s is not there): "
							"'cyphonic ca roll' first", f->next)
					     : cli_fail("%s", err);
	x = ca_bundle_signer(f->ca.bundle, next);
	EVP_PKEY_free(next);
	if (!x)
		return cli_fail("%s belongs to no CA of %s", f->next, f->c.ca_cert);
	X509_free(x);
	/* The old key goes: from here on only the new CA signs. */
	if (rename(f->next, f->c.ca_key) < 0)
		return cli_fail("%s: %s", f->c.ca_key, strerror(errno));
	printf("the new CA signs now; the old CA's key is deleted\n");
	ca_tell_cloud(&f->c);
	printf("next: once every node has logged in again and holds a certificate from the "
	       "new CA, run 'cyphonic ca finish'\n");
	return CLI_OK;
}

static int ca_finish(struct ca_files *f)
{
	STACK_OF(X509) *keep;
	int err;

	if (access(f->next, F_OK) == 0)
		return cli_fail("the new CA does not sign yet: 'cyphonic ca switch' first");
	if (sk_X509_num(f->ca.bundle) == 1)
		return cli_fail("%s trusts one CA: no roll to finish", f->c.ca_cert);
	keep = sk_X509_new_null();
	if (!keep || !sk_X509_push(keep, f->ca.signer)) {
		sk_X509_free(keep);
		return cli_fail("out of memory");
	}
	err = ca_replace_certs(f->c.ca_cert, keep);
	sk_X509_free(keep);
	if (err < 0)
		return cli_fail("%s: %s", f->c.ca_cert, strerror(-err));
	printf("%s trusts the signing CA only; certificates from the old one are refused\n",
	       f->c.ca_cert);
	ca_tell_cloud(&f->c);
	return CLI_OK;
}

int cmd_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int (*run)(struct ca_files *f);
	} subs[] = {
		{ "status", ca_status }, { "roll", ca_roll },
		{ "switch", ca_switch }, { "finish", ca_finish },
	};
	const char *dir = NULL;
	struct ca_files f;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt != 'd')
			return cli_usage("ca");
		dir = optarg;
	}
	if (optind != argc - 1 || !dir)
		return cli_usage("ca");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[optind], subs[i].name))
			continue;
		if (ca_files_load(dir, &f) < 0)
			return CLI_FAIL;
		rc = subs[i].run(&f);
		ca_set_free(&f.ca);
		return rc;
	}
	return cli_usage("ca");
}
