/* The embedded SQLite backend of the store.
 *
 * Several processes (the CLI, one or more cloud daemons) open the same
 * file at once, so the database runs in WAL mode with a busy timeout,
 * every read-then-write sequence runs in BEGIN IMMEDIATE (takes the write
 * lock up front, so two writers never deadlock upgrading a read lock),
 * and statements are reset right after use so no read snapshot lingers.
 *
 * Schema: versioned by the schema_version table (one row per applied
 * step); migrations[] below is applied in one transaction at open.
 * Representation choices, kept plain so a PostgreSQL backend can mirror
 * them:
 *   - virtual IPs as text ("100.64.0.1", "fd00:1:2::1") plus the integer
 *     vip_index they were allocated from (UNIQUE: the allocation);
 *   - a general node's MAC as text "aa:bb:cc:dd:ee:ff", NULL for others;
 *   - key ids and sealed counters (uint64) as signed 64-bit integers
 *     with the same bits;
 *   - registration socket addresses as text through addr.h,
 *     "1.2.3.4:5" or "[2001:db8::1]:5" ('' for none), the reported list
 *     comma-separated. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sqlite3.h>

#include "addr.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "store_impl.h"
#include "store_row.h"

#define BUSY_TIMEOUT_MS 10000

static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE nodes ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  fqdn TEXT NOT NULL UNIQUE,"
	"  kind INTEGER NOT NULL,"
	"  adapter_id INTEGER NOT NULL DEFAULT 0,"
	"  mac TEXT UNIQUE,"
	"  vip_index INTEGER NOT NULL UNIQUE,"
	"  vip4 TEXT NOT NULL UNIQUE,"
	"  vip6 TEXT NOT NULL UNIQUE,"
	"  cert_serial TEXT NOT NULL DEFAULT '',"
	"  pwhash TEXT NOT NULL DEFAULT '',"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  revoke_reason TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX nodes_serial ON nodes (cert_serial);"
	"CREATE INDEX nodes_adapter ON nodes (adapter_id);"
	"CREATE TABLE keys ("
	"  key_id INTEGER PRIMARY KEY,"
	"  node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
	"  key BLOB NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX keys_node ON keys (node_id);"
	"CREATE INDEX keys_expires ON keys (expires);"
	"CREATE TABLE regs ("
	"  node_id INTEGER PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,"
	"  key_id INTEGER NOT NULL,"
	"  observed TEXT NOT NULL,"
	"  addrs TEXT NOT NULL,"
	"  families INTEGER NOT NULL,"
	"  nat INTEGER NOT NULL,"
	"  counter INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX regs_expires ON regs (expires);",
	/* 2: how the node's NAPT maps it (enum cy_mapping) */
	"ALTER TABLE regs ADD COLUMN mapping INTEGER NOT NULL DEFAULT 0;",
	/* 3: the node's tags for the access policy, "a,b" */
	"ALTER TABLE nodes ADD COLUMN tags TEXT NOT NULL DEFAULT '';",
	/* 4: the certificate a renewal replaced, accepted until it expires */
	("ALTER TABLE nodes ADD COLUMN cert_prev TEXT NOT NULL DEFAULT '';"
	 "CREATE INDEX nodes_serial_prev ON nodes (cert_prev);"),
	/* 5: the cloud host a registration is on */
	"ALTER TABLE regs ADD COLUMN host TEXT NOT NULL DEFAULT '';",
	/* 6: the counter mark a key keeps when its registration goes */
	"ALTER TABLE keys ADD COLUMN mark INTEGER NOT NULL DEFAULT 0;",
};

_Static_assert(CONF_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

#define NODE_COLS                                                                 \
	"id, name, fqdn, kind, adapter_id, mac, vip4, vip6, cert_serial, pwhash, " \
	"revoked, revoke_reason, created, tags, cert_prev"
#define REG_COLS \
	"node_id, key_id, observed, addrs, families, nat, counter, updated, expires, mapping, host"

enum query {
	Q_META_SET,
	Q_META_ADD,
	Q_META_GET,
	Q_VIP_NEXT,
	Q_VIP_FREE,
	Q_NODE_INSERT,
	Q_NODE_RENEW_CERT,
	Q_NODE_CERT_USED,
	Q_NODE_SET_PWHASH,
	Q_NODE_SET_TAGS,
	Q_NODE_BY_NAME,
	Q_NODE_BY_FQDN,
	Q_NODE_BY_ID,
	Q_NODE_BY_SERIAL,
	Q_NODE_BY_VIP4,
	Q_NODE_BY_VIP6,
	Q_NODE_REVOKE,
	Q_NODE_ALL,
	Q_KEY_PUT,
	Q_KEY_DELETE_OLDER,
	Q_KEY_GET,
	Q_KEY_DELETE,
	Q_KEY_DELETE_NODE,
	Q_KEY_EXPIRE,
	Q_KEY_MARK_REG,
	Q_KEY_MARK_EXPIRE,
	Q_REG_PUT,
	Q_REG_TOUCH,
	Q_REG_GET,
	Q_REG_DELETE,
	Q_REG_EXPIRE,
	Q_REG_ALL,
	Q_COUNT
};

static const char *const query_sql[Q_COUNT] = {
	[Q_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
		       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[Q_META_ADD] = "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
	[Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	/* The index after the highest taken (an index lookup: enrolling
	 * stays as fast with 100,000 nodes as with ten)... */
	[Q_VIP_NEXT] = "SELECT COALESCE(MAX(vip_index), 0) + 1 FROM nodes",
	/* ...and at the end of the range, the lowest not taken: 1 itself,
	 * or one past a taken one (a scan of every node). */
	[Q_VIP_FREE] = "SELECT MIN(c.i) FROM (SELECT 1 AS i UNION ALL "
		       "SELECT vip_index + 1 FROM nodes) c "
		       "WHERE c.i NOT IN (SELECT vip_index FROM nodes)",
	[Q_NODE_INSERT] = "INSERT INTO nodes (name, fqdn, kind, adapter_id, mac, vip_index, "
			  "vip4, vip6, cert_serial, pwhash, created, tags) "
			  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
	[Q_NODE_RENEW_CERT] = "UPDATE nodes SET cert_prev = ?2, cert_serial = ?3 "
			      "WHERE id = ?1 AND ?2 <> '' AND (cert_serial = ?2 OR cert_prev = ?2)",
	[Q_NODE_CERT_USED] = "UPDATE nodes SET cert_prev = '' WHERE id = ?1 AND cert_serial = ?2",
	[Q_NODE_SET_PWHASH] = "UPDATE nodes SET pwhash = ?2 WHERE id = ?1",
	[Q_NODE_SET_TAGS] = "UPDATE nodes SET tags = ?2 WHERE id = ?1",
	[Q_NODE_BY_NAME] = "SELECT " NODE_COLS " FROM nodes WHERE name = ?1",
	[Q_NODE_BY_FQDN] = "SELECT " NODE_COLS " FROM nodes WHERE fqdn = ?1",
	[Q_NODE_BY_ID] = "SELECT " NODE_COLS " FROM nodes WHERE id = ?1",
	[Q_NODE_BY_SERIAL] = "SELECT " NODE_COLS " FROM nodes WHERE ?1 <> '' AND "
			     "(cert_serial = ?1 OR cert_prev = ?1)",
	[Q_NODE_BY_VIP4] = "SELECT " NODE_COLS " FROM nodes WHERE vip4 = ?1",
	[Q_NODE_BY_VIP6] = "SELECT " NODE_COLS " FROM nodes WHERE vip6 = ?1",
	/* vip6 is stored as inet_ntop() writes it: one spelling per address */
	[Q_NODE_REVOKE] = "UPDATE nodes SET revoked = 1, revoke_reason = ?2 WHERE id = ?1",
	[Q_NODE_ALL] = "SELECT " NODE_COLS " FROM nodes WHERE ?1 < 0 OR adapter_id = ?1 "
		       "ORDER BY id",
	[Q_KEY_PUT] = "INSERT INTO keys (key_id, node_id, key, expires) VALUES (?1, ?2, ?3, ?4)",
	[Q_KEY_GET] = "SELECT key_id, node_id, key, expires, mark FROM keys WHERE key_id = ?1",
	[Q_KEY_DELETE] = "DELETE FROM keys WHERE key_id = ?1",
	[Q_KEY_DELETE_NODE] = "DELETE FROM keys WHERE node_id = ?1",
	[Q_KEY_DELETE_OLDER] = "DELETE FROM keys WHERE node_id = ?1 AND key_id != ?2",
	[Q_KEY_EXPIRE] = "DELETE FROM keys WHERE expires <= ?1",
	/* a registration's counter mark to its key, before the row goes */
	[Q_KEY_MARK_REG] = "UPDATE keys SET mark = MAX(mark, (SELECT counter FROM regs "
			   "WHERE node_id = ?1)) WHERE key_id = (SELECT key_id FROM regs "
			   "WHERE node_id = ?1)",
	[Q_KEY_MARK_EXPIRE] = "UPDATE keys SET mark = MAX(mark, (SELECT MAX(counter) FROM regs "
			      "WHERE regs.key_id = keys.key_id AND expires <= ?1)) "
			      "WHERE key_id IN (SELECT key_id FROM regs WHERE expires <= ?1)",
	[Q_REG_PUT] = "INSERT INTO regs (" REG_COLS ") "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
		      "ON CONFLICT (node_id) DO UPDATE SET key_id = excluded.key_id, "
		      "observed = excluded.observed, addrs = excluded.addrs, "
		      "families = excluded.families, nat = excluded.nat, "
		      "counter = excluded.counter, updated = excluded.updated, "
		      "expires = excluded.expires, mapping = excluded.mapping, "
		      "host = excluded.host",
	[Q_REG_TOUCH] = "UPDATE regs SET counter = MAX(counter, ?5), updated = ?6, expires = ?7 "
			"WHERE node_id = ?1 AND key_id = ?2 AND host = ?3 AND observed = ?4 "
			"AND expires > ?6",
	[Q_REG_GET] = "SELECT " REG_COLS " FROM regs WHERE node_id = ?1",
	[Q_REG_DELETE] = "DELETE FROM regs WHERE node_id = ?1",
	[Q_REG_EXPIRE] = "DELETE FROM regs WHERE expires <= ?1",
	[Q_REG_ALL] = "SELECT " REG_COLS " FROM regs ORDER BY node_id",
};

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	char path[512];
	sqlite3_stmt *stmt[Q_COUNT];
};

static struct store_sqlite *to_sqlite(struct store *st)
{
	return (struct store_sqlite *)st;
}

/* Map a failed step to the store's error convention. */
static int db_error(struct store_sqlite *s, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(s->db);

	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
			return -ENOENT;
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
	}
	log_err("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -EIO;
}

/* Bind ?1, ?2, ... of st from ap, one letter of fmt each: 'i' int,
 * 'I' int64_t, 't' text (NULL binds NULL), 'k' a CY_KEY_LEN-byte key.
 * Text and keys are not copied: they must outlive the step. */
static void bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 1; *fmt; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			sqlite3_bind_int(st, i, va_arg(ap, int));
			break;
		case 'I':
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 't':
			sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'k':
			sqlite3_bind_blob(st, i, va_arg(ap, const uint8_t *), CY_KEY_LEN,
					  SQLITE_STATIC);
			break;
		default:
			abort();   /* a format this file wrote wrong, never input */
		}
	}
}

/* The cached statement for q, reset, its parameters bound from fmt and
 * the rest (bind_va); NULL (logged) on error.  The step_*() below take
 * NULL for a failed prep() and return -EIO, so a call reads
 * step_done(s, prep(s, Q_..., "I", id), "what"). */
static sqlite3_stmt *prep(struct store_sqlite *s, enum query q, const char *fmt, ...)
{
	sqlite3_stmt *st = s->stmt[q];
	va_list ap;

	if (!st) {
		if (sqlite3_prepare_v2(s->db, query_sql[q], -1, &s->stmt[q], NULL) != SQLITE_OK) {
			log_err("store %s: prepare: %s", s->path, sqlite3_errmsg(s->db));
			return NULL;
		}
		st = s->stmt[q];
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	va_start(ap, fmt);
	bind_va(st, fmt, ap);
	va_end(ap);
	return st;
}

static int exec(struct store_sqlite *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("store %s: %.40s: %s", s->path, sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int begin(struct store_sqlite *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

static int finish(struct store_sqlite *s, int rc)
{
	if (rc < 0) {
		exec(s, "ROLLBACK");
		return rc;
	}
	return exec(s, "COMMIT") < 0 ? -EIO : rc;
}

/* Run st, a statement that returns no rows: rows changed, or -errno
 * (logged as what). */
static int step_done(struct store_sqlite *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		rc = db_error(s, rc, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : rc;
}

/* For writes that must hit one row: 0, -ENOENT for none, or the error. */
static int one_row(int rc)
{
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* Reads the current row of st into out: 0 or -errno. */
typedef int row_fn(struct store_sqlite *s, sqlite3_stmt *st, void *out);

/* The first row of st read by row() into out: row()'s result, -ENOENT
 * when there is none, or -errno (logged as what). */
static int step_row(struct store_sqlite *s, sqlite3_stmt *st, row_fn *row, void *out,
		    const char *what)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = row(s, st, out);
	else if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = db_error(s, rc, what);
	sqlite3_reset(st);
	return rc;
}

/* snprintf's result: >= size when the text did not fit. */
static int col_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int row_int64(struct store_sqlite *s, sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
	return 0;
}

struct text_out {
	char *buf;
	size_t len;
};

static int row_text(struct store_sqlite *s, sqlite3_stmt *st, void *out)
{
	struct text_out *t = out;

	return col_text(st, 0, t->buf, t->len) >= (int)t->len ? -ENOSPC : 0;
}


/* The n columns of the current row of st as text (store_row.h). */
static void row_texts(sqlite3_stmt *st, const char **v, int n)
{
	for (int i = 0; i < n; i++)
		v[i] = (const char *)sqlite3_column_text(st, i);
}

static int row_node(struct store_sqlite *s, sqlite3_stmt *st, void *out)
{
	const char *v[STORE_NODE_NCOLS];

	row_texts(st, v, STORE_NODE_NCOLS);
	store_row_node(v, out);
	return 0;
}

/* ---- meta ---- */

/* replace: a value the key has is overwritten (set), else kept (add). */
static int sq_meta_write(struct store *st, const char *key, const char *value, bool replace)
{
	struct store_sqlite *s = to_sqlite(st);
	int rc;

	if (strlen(value) > STORE_META_MAX)
		return -EINVAL;
	rc = step_done(s, prep(s, replace ? Q_META_SET : Q_META_ADD, "tt", key, value),
		       replace ? "meta set" : "meta add");
	return rc < 0 ? rc : 0;
}

static int sq_meta_set(struct store *st, const char *key, const char *value)
{
	return sq_meta_write(st, key, value, true);
}

static int sq_meta_add(struct store *st, const char *key, const char *value)
{
	return sq_meta_write(st, key, value, false);
}

static int meta_get(struct store_sqlite *s, const char *key, char *value, size_t len)
{
	struct text_out out = { value, len };

	return step_row(s, prep(s, Q_META_GET, "t", key), row_text, &out, "meta get");
}

static int sq_meta_get(struct store *st, const char *key, char *value, size_t len)
{
	return meta_get(to_sqlite(st), key, value, len);
}

/* Counters live in meta as "counter:NAME" = decimal high-water mark; the
 * read and the write share one BEGIN IMMEDIATE, so two processes on one
 * file never get overlapping blocks.  The commit must survive a power
 * loss (a lost mark would hand out used nonces again after a reboot with
 * the clock behind), so it runs with synchronous=FULL, which in WAL mode
 * syncs the log at every commit; the rest of the store keeps NORMAL. */
static int sq_counter_reserve(struct store *st, const char *name, uint64_t at_least,
			      uint64_t block, uint64_t *start)
{
	struct store_sqlite *s = to_sqlite(st);
	char key[80], val[32];
	unsigned long long mark = 0;
	uint64_t from;
	int rc;

	if (!block || snprintf(key, sizeof(key), "counter:%s", name) >= (int)sizeof(key))
		return -EINVAL;
	if (exec(s, "PRAGMA synchronous=FULL") < 0)
		return -EIO;
	if (begin(s) < 0) {
		exec(s, "PRAGMA synchronous=NORMAL");
		return -EIO;
	}
	rc = meta_get(s, key, val, sizeof(val));
	if (rc == 0 && sscanf(val, "%llu", &mark) != 1)
		rc = -EIO;
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0) {
		from = (uint64_t)mark > at_least ? (uint64_t)mark : at_least;
		if (from > UINT64_MAX - block) {
			rc = -EINVAL;
		} else {
			snprintf(val, sizeof(val), "%llu", (unsigned long long)(from + block));
			rc = sq_meta_set(st, key, val);
			*start = from;
		}
	}
	rc = finish(s, rc);
	if (exec(s, "PRAGMA synchronous=NORMAL") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* ---- nodes ---- */

/* Inside the write transaction: the index after the highest taken,
 * past the range's end the lowest free one, or -ENOSPC. */
static int vip_alloc(struct store_sqlite *s, struct store_node *n, int64_t *index)
{
	char p4s[64], p6s[64];
	uint8_t p4[4], p6[16];
	int plen4, plen6, rc;

	if (meta_get(s, "vip4_prefix", p4s, sizeof(p4s)) < 0 ||
	    meta_get(s, "vip6_prefix", p6s, sizeof(p6s)) < 0 ||
	    store_vip_parse4(p4s, p4, &plen4) < 0 || store_vip_parse6(p6s, p6, &plen6) < 0) {
		log_err("store %s: meta vip4_prefix/vip6_prefix missing or malformed", s->path);
		return -EINVAL;
	}
	/* An aggregate always returns a row: none is the store's fault. */
	rc = step_row(s, prep(s, Q_VIP_NEXT, ""), row_int64, index, "vip allocation");
	if (rc == 0 && *index > store_vip_capacity(plen4, plen6))
		rc = step_row(s, prep(s, Q_VIP_FREE, ""), row_int64, index, "vip allocation");
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	if (*index < 1 || *index > store_vip_capacity(plen4, plen6))
		return -ENOSPC;
	store_vip_make(p4, p6, *index, n->vip4, n->vip6);
	return 0;
}

static int sq_node_add(struct store *st, struct store_node *n)
{
	struct store_sqlite *s = to_sqlite(st);
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	sqlite3_stmt *q;
	int64_t index = 0;
	int rc;

	rc = begin(s);
	if (rc < 0)
		return rc;
	rc = vip_alloc(s, n, &index);
	if (rc < 0)
		goto out;
	inet_ntop(AF_INET, n->vip4, v4, sizeof(v4));
	inet_ntop(AF_INET6, n->vip6, v6, sizeof(v6));
	if (n->kind == CY_KIND_GN)
		cy_mac_str(n->mac, mac);
	n->created = clock_now();
	/* only a general node has a MAC: NULL for the others */
	q = prep(s, Q_NODE_INSERT, "ttiItIttttIt", n->name, n->fqdn, (int)n->kind,
		 n->adapter_id, n->kind == CY_KIND_GN ? mac : NULL, index, v4, v6, n->cert_serial,
		 n->pwhash, n->created, n->tags);
	if (!q) {
		rc = -EIO;
		goto out;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		n->id = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	rc = rc == SQLITE_DONE ? 0 : db_error(s, rc, "node add");
	sqlite3_reset(q);
	n->revoked = false;
	n->revoke_reason[0] = '\0';
out:
	return finish(s, rc);
}

static int node_set_text(struct store *st, enum query which, int64_t id, const char *v)
{
	struct store_sqlite *s = to_sqlite(st);

	return one_row(step_done(s, prep(s, which, "It", id, v), "node update"));
}

static int sq_node_renew_cert(struct store *st, int64_t id, const char *presented,
			      const char *fresh)
{
	struct store_sqlite *s = to_sqlite(st);

	return one_row(step_done(s, prep(s, Q_NODE_RENEW_CERT, "Itt", id, presented, fresh),
				 "certificate renewal"));
}

static int sq_node_cert_used(struct store *st, int64_t id, const char *serial)
{
	return node_set_text(st, Q_NODE_CERT_USED, id, serial);
}

static int sq_node_set_pwhash(struct store *st, int64_t id, const char *pwhash)
{
	return node_set_text(st, Q_NODE_SET_PWHASH, id, pwhash);
}

static int sq_node_set_tags(struct store *st, int64_t id, const char *tags)
{
	return node_set_text(st, Q_NODE_SET_TAGS, id, tags);
}

static int node_by_text(struct store *st, enum query which, const char *v, struct store_node *n)
{
	struct store_sqlite *s = to_sqlite(st);

	return step_row(s, prep(s, which, "t", v), row_node, n, "node lookup");
}

static int sq_node_by_name(struct store *st, const char *name, struct store_node *n)
{
	return node_by_text(st, Q_NODE_BY_NAME, name, n);
}

static int sq_node_by_fqdn(struct store *st, const char *fqdn, struct store_node *n)
{
	return node_by_text(st, Q_NODE_BY_FQDN, fqdn, n);
}

static int sq_node_by_serial(struct store *st, const char *serial, struct store_node *n)
{
	return node_by_text(st, Q_NODE_BY_SERIAL, serial, n);
}

static int sq_node_by_vip4(struct store *st, const uint8_t vip4[4], struct store_node *n)
{
	char v4[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, vip4, v4, sizeof(v4));
	return node_by_text(st, Q_NODE_BY_VIP4, v4, n);
}

static int sq_node_by_vip6(struct store *st, const uint8_t vip6[16], struct store_node *n)
{
	char v6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, vip6, v6, sizeof(v6));
	return node_by_text(st, Q_NODE_BY_VIP6, v6, n);
}

static int sq_node_by_id(struct store *st, int64_t id, struct store_node *n)
{
	struct store_sqlite *s = to_sqlite(st);

	return step_row(s, prep(s, Q_NODE_BY_ID, "I", id), row_node, n, "node lookup");
}

static int sq_node_revoke(struct store *st, const char *name, const char *reason)
{
	struct store_sqlite *s = to_sqlite(st);
	struct store_node n;
	int rc;

	rc = begin(s);
	if (rc < 0)
		return rc;
	rc = sq_node_by_name(st, name, &n);
	if (rc >= 0)
		rc = step_done(s, prep(s, Q_NODE_REVOKE, "It", n.id, reason ? reason : ""),
			       "revoke");
	if (rc >= 0)
		rc = step_done(s, prep(s, Q_KEY_DELETE_NODE, "I", n.id), "revoke keys");
	if (rc >= 0)
		rc = step_done(s, prep(s, Q_REG_DELETE, "I", n.id), "revoke registration");
	if (rc > 0)
		rc = 0;
	return finish(s, rc);
}

/* Foreach: the rows are read first and the callbacks run afterwards, so
 * a callback may call back into the store (even write) safely. */
struct rows {
	void *v;
	size_t n, cap, size;
};

static void *rows_add(struct rows *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		void *v = realloc(r->v, cap * r->size);
		if (!v)
			return NULL;
		r->v = v;
		r->cap = cap;
	}
	return (char *)r->v + r->size * r->n++;
}

/* Every row of st, each read by row() into r (elements of r->size
 * bytes).  0, -ENOMEM or -EIO (logged as what). */
static int step_rows(struct store_sqlite *s, sqlite3_stmt *st, row_fn *row, struct rows *r,
		     const char *what)
{
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *elem = rows_add(r);

		rc = elem ? row(s, st, elem) : -ENOMEM;
		if (rc < 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = db_error(s, rc, what);
	sqlite3_reset(st);
	return rc;
}

static int sq_node_foreach(struct store *st, int64_t adapter_id,
			   int (*cb)(const struct store_node *n, void *arg), void *arg)
{
	struct store_sqlite *s = to_sqlite(st);
	struct rows r = { .size = sizeof(struct store_node) };
	int rc;

	rc = step_rows(s, prep(s, Q_NODE_ALL, "I", adapter_id), row_node, &r, "node list");
	for (size_t i = 0; rc == 0 && i < r.n; i++)
		if (cb(&((struct store_node *)r.v)[i], arg))
			break;
	free(r.v);
	return rc;
}

/* ---- node-NMS common keys ---- */

/* The new key and the end of the node's older ones, in one transaction:
 * a node has one live common key. */
static int sq_key_put(struct store *st, const struct store_key *k)
{
	struct store_sqlite *s = to_sqlite(st);
	int rc;

	if (begin(s) < 0)
		return -EIO;
	rc = step_done(s, prep(s, Q_KEY_PUT, "IIkI", (int64_t)k->key_id, k->node_id, k->key,
				k->expires), "key put");
	if (rc >= 0)
		rc = step_done(s, prep(s, Q_KEY_DELETE_OLDER, "II", k->node_id, (int64_t)k->key_id),
			       "key put: older keys");
	rc = finish(s, rc);
	return rc < 0 ? rc : 0;
}

static int row_key(struct store_sqlite *s, sqlite3_stmt *st, void *out)
{
	struct store_key *k = out;
	int rc = 0;

	memset(k, 0, sizeof(*k));
	k->key_id = (uint64_t)sqlite3_column_int64(st, 0);
	k->node_id = sqlite3_column_int64(st, 1);
	if (sqlite3_column_bytes(st, 2) == CY_KEY_LEN) {
		memcpy(k->key, sqlite3_column_blob(st, 2), CY_KEY_LEN);
	} else {
		log_err("store %s: key %016llx has a bad length", s->path,
			(unsigned long long)k->key_id);
		rc = -EIO;
	}
	k->expires = sqlite3_column_int64(st, 3);
	k->mark = (uint64_t)sqlite3_column_int64(st, 4);
	return rc;
}

static int sq_key_get(struct store *st, uint64_t key_id, struct store_key *k)
{
	struct store_sqlite *s = to_sqlite(st);

	return step_row(s, prep(s, Q_KEY_GET, "I", (int64_t)key_id), row_key, k, "key get");
}

static int delete_by_id(struct store *st, enum query which, int64_t id)
{
	struct store_sqlite *s = to_sqlite(st);

	return one_row(step_done(s, prep(s, which, "I", id), "delete"));
}

static int sq_key_delete(struct store *st, uint64_t key_id)
{
	return delete_by_id(st, Q_KEY_DELETE, (int64_t)key_id);
}

static int expire(struct store *st, enum query which, int64_t now)
{
	struct store_sqlite *s = to_sqlite(st);

	return step_done(s, prep(s, which, "I", now), "expire");
}

static int sq_key_expire(struct store *st, int64_t now)
{
	return expire(st, Q_KEY_EXPIRE, now);
}

/* ---- registrations ---- */

static int sq_reg_put(struct store *st, const struct store_reg *r)
{
	struct store_sqlite *s = to_sqlite(st);
	char observed[ADDR_STR_MAX], list[STORE_ADDRS_TEXT_MAX];
	sqlite3_stmt *q;
	int rc;

	if (store_reg_text(r, observed, list) < 0)
		return -EINVAL;
	q = prep(s, Q_REG_PUT, "IIttiiIIIit", r->node_id, (int64_t)r->key_id, observed, list,
		 (int)r->families, r->nat ? 1 : 0, (int64_t)r->counter, r->updated, r->expires,
		 (int)r->mapping, r->host);
	rc = step_done(s, q, "registration put");
	return rc < 0 ? rc : 0;
}

static int sq_reg_touch(struct store *st, const struct store_reg *v, size_t n, int *result)
{
	struct store_sqlite *s = to_sqlite(st);
	char observed[ADDR_STR_MAX], list[STORE_ADDRS_TEXT_MAX];
	int rc = n > 1 ? begin(s) : 0;

	for (size_t i = 0; rc >= 0 && i < n; i++) {
		const struct store_reg *r = &v[i];

		if (store_reg_text(r, observed, list) < 0) {
			result[i] = -ENOENT;  /* no endpoint: no registration has it */
			continue;
		}
		rc = step_done(s, prep(s, Q_REG_TOUCH, "IIttIII", r->node_id, (int64_t)r->key_id,
				       r->host, observed, (int64_t)r->counter, r->updated,
				       r->expires), "registration touch");
		result[i] = rc == 0 ? -ENOENT : 0;
	}
	if (n > 1)
		rc = finish(s, rc);
	return rc < 0 ? rc : 0;
}

static int row_reg(struct store_sqlite *s, sqlite3_stmt *q, void *out)
{
	const char *v[STORE_REG_NCOLS];

	row_texts(q, v, STORE_REG_NCOLS);
	store_row_reg(v, out);
	return 0;
}

static int sq_reg_get(struct store *st, int64_t node_id, struct store_reg *r)
{
	struct store_sqlite *s = to_sqlite(st);

	return step_row(s, prep(s, Q_REG_GET, "I", node_id), row_reg, r, "registration get");
}

static int sq_reg_delete(struct store *st, int64_t node_id)
{
	struct store_sqlite *s = to_sqlite(st);
	int rc;

	if (begin(s) < 0)
		return -EIO;
	rc = step_done(s, prep(s, Q_KEY_MARK_REG, "I", node_id), "registration delete: mark");
	if (rc >= 0)
		rc = step_done(s, prep(s, Q_REG_DELETE, "I", node_id), "registration delete");
	return one_row(finish(s, rc));
}

static int sq_reg_expire(struct store *st, int64_t now)
{
	struct store_sqlite *s = to_sqlite(st);
	int rc;

	if (begin(s) < 0)
		return -EIO;
	rc = step_done(s, prep(s, Q_KEY_MARK_EXPIRE, "I", now), "registration expiry: marks");
	if (rc >= 0)
		rc = expire(st, Q_REG_EXPIRE, now);
	return finish(s, rc);
}

static int sq_reg_foreach(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
			  void *arg)
{
	struct store_sqlite *s = to_sqlite(st);
	struct rows r = { .size = sizeof(struct store_reg) };
	int rc;

	rc = step_rows(s, prep(s, Q_REG_ALL, ""), row_reg, &r, "registration list");
	for (size_t i = 0; rc == 0 && i < r.n; i++)
		if (cb(&((struct store_reg *)r.v)[i], arg))
			break;
	free(r.v);
	return rc;
}

/* ---- open, migrate, close ---- */

static void sq_close(struct store *st)
{
	struct store_sqlite *s = to_sqlite(st);
	int i;

	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s);
}

static int migrate(struct store_sqlite *s, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	char sql[96];
	int64_t version = 0;
	size_t i;
	int rc;

	if (begin(s) < 0) {
		snprintf(err, errlen, "%s: cannot lock: %s", s->path, sqlite3_errmsg(s->db));
		return -EIO;
	}
	rc = exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
	if (rc < 0)
		goto out;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1, &q,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		rc = -EIO;
		goto out;
	}
	version = sqlite3_column_int64(q, 0); /* NULL reads as 0: a new file */
	sqlite3_finalize(q);
	q = NULL;
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld is newer than this build (%d)",
			 s->path, (long long)version, STORE_SCHEMA_VERSION);
		rc = -EPROTO;
		goto out;
	}
	for (i = (size_t)version; i < CONF_ARRAY_LEN(migrations); i++) {
		rc = exec(s, migrations[i]);
		if (rc < 0)
			goto out;
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version) VALUES (%zu)",
			 i + 1);
		rc = exec(s, sql);
		if (rc < 0)
			goto out;
		log_debug("store %s: migrated to schema version %zu", s->path, i + 1);
	}
out:
	sqlite3_finalize(q);
	if (rc == -EIO)
		snprintf(err, errlen, "%s: schema migration failed: %s", s->path,
			 sqlite3_errmsg(s->db));
	return finish(s, rc);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.meta_set = sq_meta_set,
	.meta_add = sq_meta_add,
	.meta_get = sq_meta_get,
	.counter_reserve = sq_counter_reserve,
	.node_add = sq_node_add,
	.node_renew_cert = sq_node_renew_cert,
	.node_cert_used = sq_node_cert_used,
	.node_set_tags = sq_node_set_tags,
	.node_set_pwhash = sq_node_set_pwhash,
	.node_by_name = sq_node_by_name,
	.node_by_fqdn = sq_node_by_fqdn,
	.node_by_id = sq_node_by_id,
	.node_by_serial = sq_node_by_serial,
	.node_by_vip4 = sq_node_by_vip4,
	.node_by_vip6 = sq_node_by_vip6,
	.node_revoke = sq_node_revoke,
	.node_foreach = sq_node_foreach,
	.key_put = sq_key_put,
	.key_get = sq_key_get,
	.key_delete = sq_key_delete,
	.key_expire = sq_key_expire,
	.reg_put = sq_reg_put,
	.reg_touch = sq_reg_touch,
	.reg_get = sq_reg_get,
	.reg_delete = sq_reg_delete,
	.reg_expire = sq_reg_expire,
	.reg_foreach = sq_reg_foreach,
};

int store_sqlite_open(struct store **out, const char *path, char *err, size_t errlen)
{
	struct store_sqlite *s;
	sqlite3_stmt *q = NULL;
	bool memory;
	int fd, rc;

	*out = NULL;
	if (strlen(path) >= sizeof(s->path)) {
		snprintf(err, errlen, "store: path too long");
		return -ENAMETOOLONG;
	}
	/* The file holds common keys and password hashes: create it 0600
	 * (SQLite gives its -wal and -shm files the same mode).  Only when it
	 * is not there: closing a descriptor of a file this process has open
	 * in SQLite (the console's handle beside the NMS's) would drop every
	 * POSIX lock the process holds on it, and another process closing
	 * the database would then take it for unused and delete the WAL
	 * under us. */
	memory = !strcmp(path, ":memory:"); /* tests: a private in-memory store */
	if (!memory && access(path, F_OK) < 0) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return rc;
		}
		if (fd >= 0)
			close(fd);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	strcpy(s->path, path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		rc = -EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* WAL: readers do not block the writer, so the CLI can list while
	 * the cloud writes registrations.  Check that the mode took. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
	if (rc != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW ||
	    !sqlite3_column_text(q, 0) ||
	    strcmp((const char *)sqlite3_column_text(q, 0), memory ? "memory" : "wal") != 0) {
		snprintf(err, errlen, "%s: cannot switch to WAL mode: %s", path,
			 sqlite3_errmsg(s->db));
		sqlite3_finalize(q);
		rc = -EIO;
		goto fail;
	}
	sqlite3_finalize(q);
	if (exec(s, "PRAGMA foreign_keys=ON") < 0 || exec(s, "PRAGMA synchronous=NORMAL") < 0 ||
	    exec(s, "PRAGMA secure_delete=ON") < 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		rc = -EIO;
		goto fail;
	}
	rc = migrate(s, err, errlen);
	if (rc < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}
