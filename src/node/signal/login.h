/* The AS client: one request over TLS 1.3 to each cloud address in turn,
 * until one answers.  The AS certificate must chain to the cloud CA
 * from the config and carry the dialled address as an IP SAN; the node
 * presents its certificate, or NAME + PASSWORD when the config has only a
 * password.  The outcome reaches the caller through one callback per
 * login_start(), never from inside login_start() itself.
 *
 * Three requests share that one exchange (connect, handshake, one frame
 * out, one frame in, per cloud address):
 *   - login_new() + login_start(): the node logs itself in;
 *   - login_new_for() + login_start(): an adapter logs in one of its
 *     general nodes (Login Request with FOR = the GN's name, authenticated
 *     with the adapter's credentials); the login_result is the GN's
 *     (its NAME, FQDN, KIND and common key);
 *   - login_info_start(): an adapter fetches its general-node list
 *     (Information Request); works on any struct login made from the
 *     adapter's conf (login_new() or login_new_for()).
 * One struct login runs one request at a time.
 *
 * login_build_request(), login_build_info_request(), login_parse_response()
 * and login_parse_info() are the wire part, plain functions over bytes for
 * the tests and fuzzers. */
#ifndef CY_NODE_LOGIN_H
#define CY_NODE_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/types.h>

#include "cred.h"
#include "wire.h"

#define LOGIN_MAX_NMS 8
#define LOGIN_TIMEOUT_S 5     /* per cloud address: connect, handshake, answer */
#define LOGIN_RES_MAX 16384   /* largest Login Response frame accepted (CAs included) */
#define LOGIN_INFO_RES_MAX CY_MSG_MAX /* largest Information Response accepted */
#define LOGIN_GN_MAX 1024     /* general nodes accepted in one Information Response */

enum login_status {
	LOGIN_OK,        /* key and identity below are valid */
	LOGIN_REFUSED,   /* the AS answered with result != 0 (result, reason) */
	LOGIN_FAILED,    /* no AS answered usefully (reason says why) */
};

struct login_result {
	enum login_status status;
	uint8_t result;                       /* enum cy_result */
	char reason[CY_REASON_MAX + 1];
	char name[CY_NAME_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];
	uint8_t kind;
	uint64_t key_id;
	uint8_t key[CY_KEY_LEN];              /* secret: wipe after use */
	uint32_t lifetime;                    /* seconds */
	size_t nnms;
	struct sockaddr_storage nms[LOGIN_MAX_NMS];
	struct cred_update pki;               /* CA and CERT, applied by the login */
};

/* One general node of the adapter, as the Information Response lists it. */
struct login_info {
	enum login_status status;             /* as for a login */
	uint8_t result;                       /* enum cy_result */
	char reason[CY_REASON_MAX + 1];       /* REFUSED / FAILED: why */
	size_t ngn;                           /* LOGIN_OK: entries in gn */
	struct cy_gn *gn;                  /* heap, ngn entries (at most LOGIN_GN_MAX);
					       * freed with login_info_free() */
};

struct event_base;
struct node_conf;
struct cred;
struct login;

typedef void (*login_cb)(void *arg, const struct login_result *r);
/* r (and r->gn) is valid only during the call: copy what you keep. */
typedef void (*login_info_cb)(void *arg, const struct login_info *r);

/* A login to the cloud of conf with the credentials cred (cred.h: every
 * login of a daemon shares them, and a Login Response that renews them
 * renews them for all).  conf and cred must outlive the login.  cb may be
 * NULL for a struct login used only for login_info_start(). */
struct login *login_new(struct event_base *base, const struct node_conf *conf,
			struct cred *cred, login_cb cb, void *arg);
/* The same, but login_start() logs in the general node gn_name (a DNS
 * label, copied) on behalf of the adapter whose conf this is; cb gets the
 * GN's login_result.  NULL when gn_name is not a valid name. */
struct login *login_new_for(struct event_base *base, const struct node_conf *conf,
			    struct cred *cred, const char *gn_name, login_cb cb, void *arg);
void login_free(struct login *l);
/* Start a login unless a request is running; the callback follows later. */
void login_start(struct login *l);
/* Start an Information Request: cb(arg, info) follows later, never from
 * inside this call.  0, or -EBUSY while a login or another Information
 * Request of l runs (nothing is started), -EINVAL when cb is NULL. */
int login_info_start(struct login *l, login_info_cb cb, void *arg);
bool login_busy(const struct login *l);

/* Login Request with FOR = gn_name (name = the adapter's). */
ssize_t login_build_request_for(const char *name, const char *pw, const char *gn_name,
				uint8_t *buf, size_t cap);
/* Information Request: NAME always, PASSWORD when pw is not NULL. */
ssize_t login_build_info_request(const char *name, const char *pw, uint8_t *buf, size_t cap);
/* Fill r from an Information Response; r->gn is allocated here (also on
 * error, where it may be NULL): release it with login_info_free().
 * 0 (r->status LOGIN_OK or LOGIN_REFUSED) or -EBADMSG with r->reason set
 * (a GN entry without NAME, FQDN, MAC, VIP4 or VIP6, a bad value, more
 * than LOGIN_GN_MAX entries), or -ENOMEM. */
int login_parse_info(const uint8_t *buf, size_t len, struct login_info *r);
void login_info_free(struct login_info *r);

/* Login Request: NAME always, PASSWORD when pw is not NULL, NEWKEY when
 * newkey (CA_RAW_KEY_LEN bytes) is not NULL.  Returns the length or
 * -EMSGSIZE. */
ssize_t login_build_request(const char *name, const char *pw, const uint8_t *newkey,
			    uint8_t *buf, size_t cap);
/* Fill r from a Login Response.  0 (r->status LOGIN_OK or LOGIN_REFUSED)
 * or -EBADMSG with r->reason saying what was wrong. */
int login_parse_response(const uint8_t *buf, size_t len, struct login_result *r);

#endif
