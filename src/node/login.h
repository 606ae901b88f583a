/* The AS client: one Login Request over TLS 1.3 to each cloud address in
 * turn, until one answers.  The AS certificate must chain to the cloud CA
 * from the config and carry the dialled address as an IP SAN; the node
 * presents its certificate, or NAME + PASSWORD when the config has only a
 * password.  The outcome reaches the caller through one callback per
 * login_start(), never from inside login_start() itself.
 *
 * login_build_request() and login_parse_response() are the wire part,
 * plain functions over bytes for the tests. */
#ifndef CY_NODE_LOGIN_H
#define CY_NODE_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "wire.h"

#define LOGIN_MAX_NMS 8
#define LOGIN_TIMEOUT_S 5     /* per cloud address: connect, handshake, answer */
#define LOGIN_RES_MAX 4096    /* largest Login Response frame accepted */

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
};

struct event_base;
struct node_conf;
struct login;

typedef void (*login_cb)(void *arg, const struct login_result *r);

/* Prepares the TLS context from conf (CA, certificate, key); NULL when
 * they do not load (logged).  conf must outlive the login. */
struct login *login_new(struct event_base *base, const struct node_conf *conf, login_cb cb,
			void *arg);
void login_free(struct login *l);
/* Start a login unless one is running; the callback follows later. */
void login_start(struct login *l);
bool login_busy(const struct login *l);

/* Login Request: NAME always, PASSWORD when pw is not NULL.  Returns the
 * length or -EMSGSIZE. */
ssize_t login_build_request(const char *name, const char *pw, uint8_t *buf, size_t cap);
/* Fill r from a Login Response.  0 (r->status LOGIN_OK or LOGIN_REFUSED)
 * or -EBADMSG with r->reason saying what was wrong. */
int login_parse_response(const uint8_t *buf, size_t len, struct login_result *r);

#endif
