/* The store's rows as text, shared by the backends: a node or a
 * registration read from its columns' text (what sqlite3_column_text and
 * PQgetvalue both give) and a registration's addresses written as text.
 * The column orders are NODE_COLS and REG_COLS of each backend:
 *
 *   node: id, name, fqdn, kind, adapter_id, mac, vip4, vip6, cert_serial,
 *         pwhash, revoked, revoke_reason, created, tags, cert_prev
 *   reg:  node_id, key_id, observed, addrs, families, nat, counter,
 *         updated, expires, mapping, host
 *
 * A NULL column reads as "". */
#ifndef CY_STORE_ROW_H
#define CY_STORE_ROW_H

#include "addr.h"
#include "store.h"

#define STORE_NODE_NCOLS 15
#define STORE_REG_NCOLS 11
#define STORE_ADDRS_TEXT_MAX (STORE_MAX_ADDRS * (ADDR_STR_MAX + 1) + 1)

void store_row_node(const char *const v[STORE_NODE_NCOLS], struct store_node *n);
void store_row_reg(const char *const v[STORE_REG_NCOLS], struct store_reg *r);

/* A registration's observed endpoint and its address list ("a,b") as
 * the columns hold them: 0, or -EINVAL for an address of no family. */
int store_reg_text(const struct store_reg *r, char observed[ADDR_STR_MAX],
		   char list[STORE_ADDRS_TEXT_MAX]);

/* "aa:bb:cc:dd:ee:ff" into mac (zeros when it does not parse). */
void store_mac_parse(const char *s, uint8_t mac[6]);

#endif
