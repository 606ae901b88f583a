/* What an administrator does to a cloud, whoever asks: the `cyphonic`
 * CLI (src/cli) and the web console of cyphonic-cloud (src/cloud/console)
 * both call these, so a node enrolled from either is the same node.
 *
 * Each takes an open store and the cloud's config, and returns 0 or a
 * negative errno with err (errlen bytes) saying why in one line:
 * -EINVAL a bad argument, -EEXIST a name or MAC taken, -ENOENT no such
 * node, -ENOSPC the virtual address ranges full, -EPERM this host cannot
 * (no CA key), -EIO the store or a file. */
#ifndef CY_ADMIN_H
#define CY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "cloud_conf.h"
#include "pwhash.h"
#include "store.h"

/* Make ready to enrol a node or an adapter (kind): the name checked and
 * free, its certificate issued (Ed25519, CN = SAN = FQDN, cert_days or
 * [as] cert_days; none with a password: then it logs in with ID +
 * password), and *config (heap; free with admin_config_free) the text of
 * its cyphonicd config.  admin_node_add(n) then enrols it: the caller
 * keeps the config first, so a failure leaves neither half.  The VIPs
 * are allocated by admin_node_add, so the config does not name them. */
struct admin_enrol {
	enum cy_kind kind;              /* CY_KIND_NODE or CY_KIND_ADAPTER */
	const char *name;
	const char *password;           /* NULL: a certificate */
	const char *lan;                /* adapters: the LAN interface */
	const char *tags;               /* "a,b" or "" (checked here) */
	int cert_days;                  /* 0: [as] cert_days */
};
int admin_enrol(struct store *st, const struct cloud_conf *c, const struct admin_enrol *a,
		struct store_node *n, char **config, char *err, size_t errlen);
void admin_config_free(char *config);
/* Add n to the store, its VIPs allocated (n->vip4/vip6 set). */
int admin_node_add(struct store *st, struct store_node *n, char *err, size_t errlen);

/* Enrol general node name behind adapter (enrolled, not revoked) by mac
 * (unicast, not taken by another general node). */
int admin_gn_add(struct store *st, const struct cloud_conf *c, const char *name,
		 const char *adapter, const uint8_t mac[6], const char *tags,
		 struct store_node *n, char *err, size_t errlen);

/* Revoke name with reason (one line, <= CY_REASON_MAX; NULL: "revoked
 * by the administrator").  An adapter's general nodes are revoked with
 * it; each revocation is reported through said(arg, fqdn, reason) when
 * said is set.  A node already revoked: 0 with *already set and err its
 * earlier reason (an adapter's unrevoked general nodes are revoked then,
 * finishing a revocation that stopped half-way).  The running cloud is not told:
 * the caller does that (its control socket, or the console's loop). */
#define ADMIN_REVOKE_REASON "revoked by the administrator"
typedef void (*admin_said_fn)(void *arg, const char *fqdn, const char *reason);
int admin_revoke(struct store *st, const struct cloud_conf *c, const char *name,
		 const char *reason, bool *already, admin_said_fn said, void *arg, char *err,
		 size_t errlen);

/* Every node, adapter and general node, with what the NMS knows of it
 * now (`cyphonic list`, the console's table). */
struct admin_row {
	char name[CY_NAME_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];
	enum cy_kind kind;
	char vip4[INET_ADDRSTRLEN];
	char vip6[INET6_ADDRSTRLEN];
	bool revoked, registered, nat;
	char reason[CY_REASON_MAX + 1];      /* revoked: why */
	char observed[ADDR_STR_MAX];         /* registered: where the NMS saw it, or "" */
	char host[STORE_HOST_MAX + 1];       /* registered: the cloud host */
	int64_t created, updated;            /* unix s; updated: the last registration, or 0 */
	char adapter[CY_NAME_MAX + 1];       /* general nodes: the adapter's name */
	char mac[CY_MAC_STR];
	char tags[STORE_TAGS_MAX + 1];
};
/* *rows (heap, free()) and *n.  0 or -ENOMEM/-EIO. */
int admin_list(struct store *st, int64_t now, struct admin_row **rows, size_t *n);
/* "node", "adapter", "gn". */
const char *admin_kind_str(enum cy_kind k);
/* The rows as the JSON array `cyphonic list --json` prints (its keys in
 * README.md and docs/console.md), into j (under key, or NULL);
 * admin_list_json_cap(n) bytes hold it, however its texts escape. */
struct json;
void admin_list_json(struct json *j, const char *key, const struct admin_row *rows, size_t n);
size_t admin_list_json_cap(size_t n);

/* The access policy's file ([nms] policy, docs/policy.md), whole.
 * admin_policy_get: *text (heap, NUL-terminated; NULL with *len 0 when
 * there is no file: every pair allowed).  admin_policy_set: checked
 * first (refused: -EINVAL, err "policy:LINE: what is wrong" and *line),
 * then written in place of the old file at once (a new file renamed over
 * it); the NMS reads it within a second.  -ENOENT when cloud.conf names
 * no policy file. */
#define ADMIN_POLICY_MAX (128 * 1024)
int admin_policy_get(const struct cloud_conf *c, char **text, size_t *len, char *err,
		     size_t errlen);
int admin_policy_set(const struct cloud_conf *c, const char *text, size_t len, unsigned *line,
		     char *err, size_t errlen);

/* Console accounts, kept in the store's meta table as "admin/NAME" ->
 * the password's hash (pwhash.h), so every cloud host on the store
 * knows them.  Names are DNS labels. */
int admin_account_set(struct store *st, const char *name, const char *password, char *err,
		      size_t errlen);
/* The password hash of name's account into hash: 0, -ENOENT (no account),
 * -EIO (the store). */
int admin_account_hash(struct store *st, const char *name, char hash[PWHASH_MAX]);
/* Remove: the name no longer logs in.  -ENOENT when it had no account. */
int admin_account_remove(struct store *st, const char *name);
/* 0 when name has an account and password is its own (hash: its hash,
 * for the session to keep a digest of); -EACCES when not; -EIO when the
 * store or the hashing failed.  The hash is computed even for an unknown
 * name, so the time says nothing. */
int admin_account_check(struct store *st, const char *name, const char *password,
			char hash[PWHASH_MAX]);

#endif
