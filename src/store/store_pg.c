/* The PostgreSQL backend (libpq): the schema of store_sqlite.c in
 * PostgreSQL's types, so several cloud hosts can share one store.
 *
 * The URL is libpq's own (postgresql://user@host:port/db?options=...,
 * a schema picked with options=-csearch_path%3DNAME).  Every call runs
 * on the one connection and waits for its answer, but never longer than
 * PG_CALL_MS: a server that stops answering (stopped, cut off, stuck)
 * costs the caller, the cloud's event loop, that long once; then the
 * connection is dropped, and calls fail at once while a new one is made
 * on a thread of its own (struct pg_attempt: neither a slow server nor a
 * slow name lookup holds the caller), attempts spaced by a wait that
 * doubles from PG_RETRY_MIN_MS to PG_RETRY_MAX_MS.  Writes that read before they
 * write (VIP allocation, counter blocks) run SERIALIZABLE and are retried
 * when PostgreSQL reports a conflict with another host (SQLSTATE 40001,
 * 40P01, or the unique VIP index taken by a concurrent insert), so VIPs
 * and counter blocks stay unique with any number of hosts. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aead.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "store_impl.h"
#include "store_row.h"

#define PG_TRIES 16            /* a serialisation conflict is retried this often */
#define PG_MIGRATE_LOCK 0x6379706863 /* pg_advisory_xact_lock key: one migrator at a time */

static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE nodes ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  fqdn TEXT NOT NULL UNIQUE,"
	"  kind INTEGER NOT NULL,"
	"  adapter_id BIGINT NOT NULL DEFAULT 0,"
	"  mac TEXT UNIQUE,"
	"  vip_index BIGINT NOT NULL CONSTRAINT nodes_vip_index UNIQUE,"
	"  vip4 TEXT NOT NULL UNIQUE,"
	"  vip6 TEXT NOT NULL UNIQUE,"
	"  cert_serial TEXT NOT NULL DEFAULT '',"
	"  pwhash TEXT NOT NULL DEFAULT '',"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  revoke_reason TEXT NOT NULL DEFAULT '',"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX nodes_serial ON nodes (cert_serial);"
	"CREATE INDEX nodes_adapter ON nodes (adapter_id);"
	"CREATE TABLE keys ("
	"  key_id BIGINT PRIMARY KEY,"
	"  node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
	"  key BYTEA NOT NULL,"
	"  expires BIGINT NOT NULL);"
	"CREATE INDEX keys_node ON keys (node_id);"
	"CREATE INDEX keys_expires ON keys (expires);"
	"CREATE TABLE regs ("
	"  node_id BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,"
	"  key_id BIGINT NOT NULL,"
	"  observed TEXT NOT NULL,"
	"  addrs TEXT NOT NULL,"
	"  families INTEGER NOT NULL,"
	"  nat INTEGER NOT NULL,"
	"  counter BIGINT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL);"
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
	"ALTER TABLE keys ADD COLUMN mark BIGINT NOT NULL DEFAULT 0;",
};

_Static_assert(CONF_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

#define NODE_COLS                                                                 \
	"id, name, fqdn, kind, adapter_id, mac, vip4, vip6, cert_serial, pwhash, " \
	"revoked, revoke_reason, created, tags, cert_prev"
#define REG_COLS \
	"node_id, key_id, observed, addrs, families, nat, counter, updated, expires, mapping, host"

/* Statements are prepared on first use (a lookup is then planned once,
 * not at every call: about half a simple statement's cost in the
 * server), by their text, and again on a new connection. */
#define PG_PREPARED_MAX 96

struct pg_prepared {
	uint64_t hash;
	char *sql;
	unsigned epoch;      /* the connection it was prepared on */
};

#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)
#define PG_CALL_MS 5000          /* a call waits this long for the server at most */
#define PG_STATEMENT_MS "4500"   /* statement_timeout: the server gives up first */
#define PG_RETRY_MIN_MS 500      /* after a failed (re)connection, calls fail at once */
#define PG_RETRY_MAX_MS 5000     /* ... for this long, doubling up to here */

struct store_pg {
	struct store base;
	PGconn *db;          /* NULL: dropped, no attempt under way */
	char *url;           /* for reconnecting */
	char where[160];     /* for messages: host and database, never the password */
	unsigned epoch;      /* moves on at each reconnection */
	struct pg_attempt *attempt;  /* a connection being made, or NULL */
	bool in_tx;          /* between begin() and finish() */
	int64_t retry_at;    /* no new attempt before (monotonic ms) */
	int backoff_ms;
	size_t nprep;
	struct pg_prepared prep[PG_PREPARED_MAX];
};

static struct store_pg *to_pg(struct store *st)
{
	return (struct store_pg *)st;
}

/* ---- statements ---- */

static void pg_notice(void *arg, const char *msg)
{
	log_debug("store %s: %s", ((struct store_pg *)arg)->where, msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Defaults for what the URL does not say: an attempt, and a peer that
 * died or stopped acknowledging, are given up on in seconds, not
 * minutes. */
#define PG_CONNECT_S 3
static const char *const pg_keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
				       "tcp_user_timeout", "dbname", NULL };
#define PG_VALUES(url) \
	((const char *const[]){ PG_STR(PG_CONNECT_S), "1", "30", "5000", (url), NULL })

/* A connection, made while the caller waits (at start).  NULL only when
 * out of memory. */
static PGconn *pg_connect(const char *url)
{
	return PQconnectdbParams(pg_keys, PG_VALUES(url), 1);
}

/* A connection made on a thread of its own: started, then taken by the
 * caller once done, without the caller ever waiting for it. */
struct pg_attempt {
	pthread_t thread;
	pthread_mutex_t mu;
	bool done;           /* under mu */
	PGconn *conn;        /* under mu: the result (maybe failed) */
	char *url;
};

static void *attempt_main(void *arg)
{
	struct pg_attempt *a = arg;
	PGconn *c = pg_connect(a->url);

	pthread_mutex_lock(&a->mu);
	a->conn = c;
	a->done = true;
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* NULL when it cannot start (out of memory, no thread). */
static struct pg_attempt *attempt_start(const char *url)
{
	struct pg_attempt *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	a->url = strdup(url);
	if (!a->url || pthread_create(&a->thread, NULL, attempt_main, a) != 0) {
		if (a->url)
			cy_wipe(a->url, strlen(a->url));
		free(a->url);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return NULL;
	}
	return a;
}

static void attempt_release(struct pg_attempt *a)
{
	cy_wipe(a->url, strlen(a->url));
	free(a->url);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* Whether a has ended; then *conn is its connection (the caller's, maybe
 * failed: check PQstatus) and a is freed. */
static bool attempt_take(struct pg_attempt *a, PGconn **conn)
{
	bool done;

	pthread_mutex_lock(&a->mu);
	done = a->done;
	pthread_mutex_unlock(&a->mu);
	if (!done)
		return false;
	pthread_join(a->thread, NULL);
	*conn = a->conn;
	attempt_release(a);
	return true;
}

/* Waits for it to end (at close: connect_timeout bounds it). */
static void attempt_free(struct pg_attempt *a)
{
	if (!a)
		return;
	pthread_join(a->thread, NULL);
	PQfinish(a->conn);
	attempt_release(a);
}

/* Wait until fd is ready for events or the deadline passes: > 0 ready,
 * 0 timed out, < 0 failed. */
static int pg_poll(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	do {
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)left);
	} while (rc < 0 && errno == EINTR);
	return rc;
}

/* No new attempt for a while, waiting longer each time. */
static void pg_backoff(struct store_pg *s)
{
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : PG_RETRY_MIN_MS;
	if (s->backoff_ms > PG_RETRY_MAX_MS)
		s->backoff_ms = PG_RETRY_MAX_MS;
	s->retry_at = mono_ms() + s->backoff_ms;
}

/* The connection is dropped (it did not answer, or broke): calls fail
 * until pg_ready() has made another. */
static void pg_drop(struct store_pg *s, const char *why, bool wait)
{
	log_warnx("store %s: %s, reconnecting", s->where, why);
	PQfinish(s->db);
	s->db = NULL;
	s->epoch++;   /* its prepared statements are gone with it */
	if (wait)
		pg_backoff(s);
}

/* The answer to what was just sent (PQsend*): its last result, as PQexec
 * gives, or NULL when the server did not answer within PG_CALL_MS (the
 * connection is then dropped) or the connection broke. */
static PGresult *pg_wait(struct store_pg *s)
{
	int64_t deadline = mono_ms() + PG_CALL_MS;
	int fd = PQsocket(s->db), rc;
	PGresult *r, *last = NULL;

	while ((rc = PQflush(s->db)) > 0) {
		if (pg_poll(fd, POLLIN | POLLOUT, deadline) <= 0 || !PQconsumeInput(s->db))
			goto fail;
	}
	if (rc < 0)
		goto fail;
	for (;;) {
		while (PQisBusy(s->db)) {
			if (pg_poll(fd, POLLIN, deadline) <= 0 || !PQconsumeInput(s->db))
				goto fail;
		}
		r = PQgetResult(s->db);
		if (!r)
			return last;
		PQclear(last);
		last = r;
	}
fail:
	PQclear(last);
	/* A server that did not answer is not asked again at once; one
	 * that closed (restarted) is. */
	if (mono_ms() >= deadline)
		pg_drop(s, "no answer in " PG_STR(PG_CALL_MS) " ms", true);
	else
		pg_drop(s, "connection lost", false);
	return NULL;
}

static PGresult *pg_exec_now(struct store_pg *s, const char *sql)
{
	return PQsendQuery(s->db, sql) ? pg_wait(s) : NULL;
}

/* What every connection (and reconnection) sets: terse errors (a
 * DETAIL line could quote a row, a key among them), calls that do not
 * block (pg_wait bounds them), and a bound on a statement, so a locked
 * table does not hold the event loop either.  0 or -1. */
static int pg_session(struct store_pg *s)
{
	PGresult *r;
	int rc;

	PQsetErrorVerbosity(s->db, PQERRORS_TERSE);
	PQsetNoticeProcessor(s->db, pg_notice, s);
	if (PQsetnonblocking(s->db, 1) < 0)
		return -1;
	r = pg_exec_now(s, "SET statement_timeout = " PG_STATEMENT_MS);
	rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	return rc;
}

/* Whether there is a connection to use.  One that was lost or dropped is
 * made again on a thread (struct pg_attempt), started after the backoff;
 * until it is done calls fail at once, so a server that is away, or a
 * name that does not resolve, costs the caller no waiting. */
static bool pg_ready(struct store_pg *s)
{
	PGconn *c;

	if (s->db) {
		if (PQstatus(s->db) == CONNECTION_OK)
			return true;
		pg_drop(s, "connection lost", false);
	}
	/* A transaction whose connection went is over: its remaining
	 * statements must not run on a new one, outside it. */
	if (s->in_tx)
		return false;
	if (!s->attempt) {
		if (mono_ms() < s->retry_at)
			return false;
		log_debug("store %s: connecting", s->where);
		s->attempt = attempt_start(s->url);
		if (!s->attempt) {
			pg_backoff(s);
			return false;
		}
	}
	if (!attempt_take(s->attempt, &c))
		return false;   /* a later call takes it */
	s->attempt = NULL;
	s->db = c;
	if (!c || PQstatus(c) != CONNECTION_OK || pg_session(s) < 0) {
		if (s->db) {
			log_warnx("store %s: cannot connect: %s", s->where, PQerrorMessage(s->db));
			PQfinish(s->db);
			s->db = NULL;
		}
		pg_backoff(s);
		return false;
	}
	log_info("store %s: connected again", s->where);
	s->backoff_ms = 0;
	s->retry_at = 0;
	return true;
}

/* The name of sql prepared on this connection ("cyN"), preparing it
 * when needed; NULL when it cannot be (the caller runs it unprepared). */
static const char *pg_prepare(struct store_pg *s, const char *sql, int nparams, char name[16])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct pg_prepared *p = NULL;
	PGresult *r;
	size_t i;

	for (const char *c = sql; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	for (i = 0; i < s->nprep; i++) {
		if (s->prep[i].hash == h && !strcmp(s->prep[i].sql, sql)) {
			p = &s->prep[i];
			break;
		}
	}
	if (!p) {
		if (s->nprep == PG_PREPARED_MAX)
			return NULL;
		p = &s->prep[s->nprep];
		p->sql = strdup(sql);
		if (!p->sql)
			return NULL;
		p->hash = h;
		p->epoch = s->epoch - 1;
		i = s->nprep++;
	}
	snprintf(name, 16, "cy%zu", i);
	if (p->epoch == s->epoch)
		return name;
	r = PQsendPrepare(s->db, name, sql, nparams, NULL) ? pg_wait(s) : NULL;
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	p->epoch = s->epoch;
	return name;
}

/* Run sql with the parameters of fmt (one letter each: 'i' int, 'I'
 * int64_t, 't' text, NULL binds NULL, 'k' a CY_KEY_LEN-byte key); the
 * result, or NULL when there is none (connection lost, out of memory). */
static PGresult *pg_run(struct store_pg *s, const char *sql, const char *fmt, va_list ap)
{
	const char *vals[16], *name;
	int lens[16], fmts[16], n = 0;
	char nums[16][24], nbuf[16];

	for (; *fmt; fmt++, n++) {
		if (n == 16)
			abort();   /* a format this file wrote wrong, never input */
		lens[n] = 0;
		fmts[n] = 0;
		switch (*fmt) {
		case 'i':
			snprintf(nums[n], sizeof(nums[n]), "%d", va_arg(ap, int));
			vals[n] = nums[n];
			break;
		case 'I':
			snprintf(nums[n], sizeof(nums[n]), "%" PRId64, va_arg(ap, int64_t));
			vals[n] = nums[n];
			break;
		case 't':
			vals[n] = va_arg(ap, const char *);
			break;
		case 'k':
			vals[n] = (const char *)va_arg(ap, const uint8_t *);
			lens[n] = CY_KEY_LEN;
			fmts[n] = 1;   /* binary */
			break;
		default:
			abort();
		}
	}
	if (!pg_ready(s))
		return NULL;
	name = pg_prepare(s, sql, n, nbuf);
	if (!s->db)
		return NULL;   /* dropped while preparing */
	if (name)
		return PQsendQueryPrepared(s->db, name, n, vals, lens, fmts, 0) ? pg_wait(s) : NULL;
	return PQsendQueryParams(s->db, sql, n, NULL, vals, lens, fmts, 0) ? pg_wait(s) : NULL;
}

/* The store's error for a failed result (logged as what unless it is a
 * conflict the caller handles): -EEXIST, -ENOENT (a foreign key), -EAGAIN
 * (a serialisation conflict, or the VIP index taken meanwhile), -EIO. */
static int pg_error(struct store_pg *s, const PGresult *r, const char *what)
{
	/* No connection (dropped, or being made again): said once, when it
	 * went, not at every call meanwhile. */
	if (!r && !s->db)
		return -EIO;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;

	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")))
		return -EAGAIN;
	/* Two hosts that chose the same free VIP: the later one tries again. */
	if (state && !strcmp(state, "23505"))
		return cons && !strncmp(cons, "nodes_vip", 9) ? -EAGAIN : -EEXIST;
	if (state && !strcmp(state, "23503"))
		return -ENOENT;
	log_err("store %s: %s: %s", s->where, what,
		r ? PQresultErrorMessage(r) : PQerrorMessage(s->db));
	return -EIO;
}

/* A statement run for its effect: the rows it changed (or, a SELECT ...
 * FOR UPDATE, locked), or -errno. */
static int pg_done(struct store_pg *s, const char *what, const char *sql, const char *fmt, ...)
{
	va_list ap;
	PGresult *r;
	int rc;

	va_start(ap, fmt);
	r = pg_run(s, sql, fmt, ap);
	va_end(ap);
	if (r && PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = atoi(PQcmdTuples(r));
	else if (r && PQresultStatus(r) == PGRES_TUPLES_OK)   /* a locking SELECT */
		rc = PQntuples(r);
	else
		rc = pg_error(s, r, what);
	PQclear(r);
	return rc;
}

/* For writes that must hit one row: 0, -ENOENT for none, or the error. */
static int one_row(int rc)
{
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* A query's rows: the result (PGRES_TUPLES_OK), or NULL with *rc set. */
static PGresult *pg_rows(struct store_pg *s, int *rc, const char *what, const char *sql,
			 const char *fmt, ...)
{
	va_list ap;
	PGresult *r;

	va_start(ap, fmt);
	r = pg_run(s, sql, fmt, ap);
	va_end(ap);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
		*rc = 0;
		return r;
	}
	*rc = pg_error(s, r, what);
	PQclear(r);
	return NULL;
}

/* Row i of r as the texts store_row.h reads (NULL for SQL NULL). */
static void row_texts(const PGresult *r, int i, const char **v, int n)
{
	for (int c = 0; c < n; c++)
		v[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static void row_node(const char *const *v, void *out)
{
	store_row_node(v, out);
}

static void row_reg(const char *const *v, void *out)
{
	store_row_reg(v, out);
}

/* Every row of r converted into an array of elements of size bytes (*n
 * of them; freed by the caller), r cleared: a foreach reads its rows
 * first and calls back afterwards, so a callback may use the store.
 * NULL: out of memory. */
static void *rows_read(PGresult *r, int ncols, size_t size,
		       void (*conv)(const char *const *v, void *out), int *n)
{
	const char *v[STORE_NODE_NCOLS > STORE_REG_NCOLS ? STORE_NODE_NCOLS : STORE_REG_NCOLS];
	char *all;

	*n = PQntuples(r);
	all = calloc(*n ? (size_t)*n : 1, size);
	for (int i = 0; all && i < *n; i++) {
		row_texts(r, i, v, ncols);
		conv(v, all + (size_t)i * size);
	}
	PQclear(r);
	return all;
}

static int exec(struct store_pg *s, const char *sql)
{
	PGresult *r = pg_ready(s) ? pg_exec_now(s, sql) : NULL;
	int rc = 0;

	if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK &&
		   PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = pg_error(s, r, sql);
	PQclear(r);
	return rc;
}

static int begin(struct store_pg *s, bool serializable)
{
	int rc = exec(s, serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN");

	s->in_tx = rc == 0;
	return rc;
}

/* Commit after rc >= 0 (a conflict at commit is -EAGAIN), else roll back. */
static int finish(struct store_pg *s, int rc)
{
	int c;

	if (rc < 0) {
		exec(s, "ROLLBACK");
		s->in_tx = false;
		return rc;
	}
	c = exec(s, "COMMIT");
	s->in_tx = false;
	return c < 0 ? c : rc;
}

/* Before try i (> 0) of a conflicting transaction: a random wait that
 * doubles, so hosts that collided do not collide again in step. */
static void backoff(int i)
{
	struct timespec ts = { 0, 0 };
	unsigned r = 0;

	if (i == 0)
		return;
	cy_random(&r, sizeof(r));
	ts.tv_nsec = (long)(r % (250000u << (i < 6 ? i : 6)));
	nanosleep(&ts, NULL);
}

/* ---- metadata and counters ---- */

/* replace: a value the key has is overwritten (set), else kept (add). */
static int pg_meta_write(struct store *st, const char *key, const char *value, bool replace)
{
	struct store_pg *s = to_pg(st);
	int rc;

	if (strlen(value) > STORE_META_MAX)
		return -EINVAL;
	rc = pg_done(s, replace ? "meta set" : "meta add",
		     replace ? "INSERT INTO meta (key, value) VALUES ($1, $2) "
			       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
			     : "INSERT INTO meta (key, value) VALUES ($1, $2) "
			       "ON CONFLICT (key) DO NOTHING",
		     "tt", key, value);
	return rc < 0 ? rc : 0;
}

static int pg_meta_set(struct store *st, const char *key, const char *value)
{
	return pg_meta_write(st, key, value, true);
}

static int pg_meta_add(struct store *st, const char *key, const char *value)
{
	return pg_meta_write(st, key, value, false);
}

static int meta_get(struct store_pg *s, const char *key, char *value, size_t len, bool lock)
{
	PGresult *r;
	int rc;

	r = pg_rows(s, &rc, "meta get", lock ? "SELECT value FROM meta WHERE key = $1 FOR UPDATE"
					      : "SELECT value FROM meta WHERE key = $1", "t", key);
	if (!r)
		return rc;
	if (PQntuples(r) == 0)
		rc = -ENOENT;
	else if (snprintf(value, len, "%s", PQgetvalue(r, 0, 0)) >= (int)len)
		rc = -ENOSPC;
	PQclear(r);
	return rc;
}

static int pg_meta_get(struct store *st, const char *key, char *value, size_t len)
{
	return meta_get(to_pg(st), key, value, len, false);
}

/* As in store_sqlite.c: "counter:NAME" = decimal high-water mark in meta,
 * read and moved in one serializable transaction (synchronous_commit is
 * on by default: the mark survives a crash of the server). */
static int counter_try(struct store_pg *s, const char *key, uint64_t at_least, uint64_t block,
		       uint64_t *start)
{
	unsigned long long mark = 0;
	char val[32];
	uint64_t from;
	int rc;

	if ((rc = begin(s, true)) < 0)
		return rc;
	/* The mark must survive the server's crash whatever its settings: a
	 * lost one would hand out nonces again under the nodes' keys. */
	rc = exec(s, "SET LOCAL synchronous_commit = on");
	if (rc == 0)
		rc = meta_get(s, key, val, sizeof(val), true);
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
			rc = pg_meta_set(&s->base, key, val);
			*start = from;
		}
	}
	return finish(s, rc);
}

static int pg_counter_reserve(struct store *st, const char *name, uint64_t at_least,
			      uint64_t block, uint64_t *start)
{
	char key[80];
	int rc = -EAGAIN;

	if (!block || snprintf(key, sizeof(key), "counter:%s", name) >= (int)sizeof(key))
		return -EINVAL;
	for (int i = 0; i < PG_TRIES && rc == -EAGAIN; i++) {
		backoff(i);
		rc = counter_try(to_pg(st), key, at_least, block, start);
	}
	return rc == -EAGAIN ? -EIO : rc;
}

/* ---- nodes ---- */

/* One index from a query of the VIP allocation: 0 when none, -1 with *rc
 * set when the query failed. */
static int64_t vip_query(struct store_pg *s, int *rc, const char *sql)
{
	PGresult *r = pg_rows(s, rc, "vip allocation", sql, "");
	int64_t index;

	if (!r)
		return -1;
	index = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
							    : 0;
	PQclear(r);
	return index;
}

static int node_add_try(struct store_pg *s, struct store_node *n)
{
	char p4s[64], p6s[64], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	uint8_t p4[4], p6[16];
	int plen4, plen6, rc;
	int64_t index;
	PGresult *r;

	if ((rc = begin(s, true)) < 0)
		return rc;
	if (meta_get(s, "vip4_prefix", p4s, sizeof(p4s), false) < 0 ||
	    meta_get(s, "vip6_prefix", p6s, sizeof(p6s), false) < 0 ||
	    store_vip_parse4(p4s, p4, &plen4) < 0 || store_vip_parse6(p6s, p6, &plen6) < 0) {
		log_err("store %s: meta vip4_prefix/vip6_prefix missing or malformed", s->where);
		return finish(s, -EINVAL);
	}
	/* The index after the highest taken (an index lookup); past the
	 * range's end the lowest not taken: 1 itself, or one past a taken
	 * one (a scan of every node). */
	index = vip_query(s, &rc, "SELECT COALESCE(MAX(vip_index), 0) + 1 FROM nodes");
	if (index > store_vip_capacity(plen4, plen6))
		index = vip_query(s, &rc, "SELECT MIN(c.i) FROM (SELECT 1::BIGINT AS i "
				  "UNION ALL SELECT vip_index + 1 FROM nodes) c "
				  "WHERE c.i NOT IN (SELECT vip_index FROM nodes)");
	if (rc < 0)
		return finish(s, rc);
	if (index < 1 || index > store_vip_capacity(plen4, plen6))
		return finish(s, -ENOSPC);
	store_vip_make(p4, p6, index, n->vip4, n->vip6);
	inet_ntop(AF_INET, n->vip4, v4, sizeof(v4));
	inet_ntop(AF_INET6, n->vip6, v6, sizeof(v6));
	if (n->kind == CY_KIND_GN)
		cy_mac_str(n->mac, mac);
	n->created = clock_now();
	/* only a general node has a MAC: NULL for the others */
	r = pg_rows(s, &rc, "node add",
		    "INSERT INTO nodes (name, fqdn, kind, adapter_id, mac, vip_index, vip4, vip6, "
		    "cert_serial, pwhash, created, tags) "
		    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
		    "ttiItIttttIt", n->name, n->fqdn, (int)n->kind, n->adapter_id,
		    n->kind == CY_KIND_GN ? mac : NULL, index, v4, v6, n->cert_serial, n->pwhash,
		    n->created, n->tags);
	if (!r)
		return finish(s, rc);
	n->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	n->revoked = false;
	n->revoke_reason[0] = '\0';
	n->cert_prev[0] = '\0';
	return finish(s, 0);
}

static int pg_node_add(struct store *st, struct store_node *n)
{
	int rc = -EAGAIN;

	for (int i = 0; i < PG_TRIES && rc == -EAGAIN; i++) {
		backoff(i);
		rc = node_add_try(to_pg(st), n);
	}
	return rc == -EAGAIN ? -EIO : rc;
}

static int pg_node_renew_cert(struct store *st, int64_t id, const char *presented,
			      const char *fresh)
{
	return one_row(pg_done(to_pg(st), "certificate renewal",
			       "UPDATE nodes SET cert_prev = $2, cert_serial = $3 WHERE id = $1 "
			       "AND $2 <> '' AND (cert_serial = $2 OR cert_prev = $2)", "Itt", id,
			       presented, fresh));
}

static int pg_node_cert_used(struct store *st, int64_t id, const char *serial)
{
	return one_row(pg_done(to_pg(st), "certificate used",
			       "UPDATE nodes SET cert_prev = '' WHERE id = $1 AND cert_serial = $2",
			       "It", id, serial));
}

static int pg_node_set_pwhash(struct store *st, int64_t id, const char *pwhash)
{
	return one_row(pg_done(to_pg(st), "node update",
			       "UPDATE nodes SET pwhash = $2 WHERE id = $1", "It", id, pwhash));
}

static int pg_node_set_tags(struct store *st, int64_t id, const char *tags)
{
	return one_row(pg_done(to_pg(st), "node update",
			       "UPDATE nodes SET tags = $2 WHERE id = $1", "It", id, tags));
}

/* The one node "WHERE cond" selects, with the parameters of fmt. */
static int node_where(struct store_pg *s, struct store_node *n, const char *cond,
		      const char *fmt, const char *a, int64_t id)
{
	char sql[256];
	const char *v[STORE_NODE_NCOLS];
	PGresult *r;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT " NODE_COLS " FROM nodes WHERE %s", cond);
	r = *fmt == 'I' ? pg_rows(s, &rc, "node get", sql, fmt, id)
			: pg_rows(s, &rc, "node get", sql, fmt, a);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		rc = -ENOENT;
	} else {
		row_texts(r, 0, v, STORE_NODE_NCOLS);
		store_row_node(v, n);
	}
	PQclear(r);
	return rc;
}

static int pg_node_by_name(struct store *st, const char *name, struct store_node *n)
{
	return node_where(to_pg(st), n, "name = $1", "t", name, 0);
}

static int pg_node_by_fqdn(struct store *st, const char *fqdn, struct store_node *n)
{
	return node_where(to_pg(st), n, "fqdn = $1", "t", fqdn, 0);
}

static int pg_node_by_id(struct store *st, int64_t id, struct store_node *n)
{
	return node_where(to_pg(st), n, "id = $1", "I", NULL, id);
}

static int pg_node_by_serial(struct store *st, const char *serial, struct store_node *n)
{
	return node_where(to_pg(st), n, "$1 <> '' AND (cert_serial = $1 OR cert_prev = $1)", "t",
			  serial, 0);
}

/* vip4 and vip6 are stored as inet_ntop() writes them: one spelling each. */
static int pg_node_by_vip4(struct store *st, const uint8_t vip4[4], struct store_node *n)
{
	char v4[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, vip4, v4, sizeof(v4));
	return node_where(to_pg(st), n, "vip4 = $1", "t", v4, 0);
}

static int pg_node_by_vip6(struct store *st, const uint8_t vip6[16], struct store_node *n)
{
	char v6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, vip6, v6, sizeof(v6));
	return node_where(to_pg(st), n, "vip6 = $1", "t", v6, 0);
}

/* Marked revoked, its keys and registration deleted, in one transaction. */
static int pg_node_revoke(struct store *st, const char *name, const char *reason)
{
	struct store_pg *s = to_pg(st);
	struct store_node n;
	int rc;

	if ((rc = begin(s, false)) < 0)
		return rc;
	rc = node_where(s, &n, "name = $1 FOR UPDATE", "t", name, 0);
	if (rc >= 0)
		rc = pg_done(s, "revoke", "UPDATE nodes SET revoked = 1, revoke_reason = $2 "
			     "WHERE id = $1", "It", n.id, reason ? reason : "");
	if (rc >= 0)
		rc = pg_done(s, "revoke keys", "DELETE FROM keys WHERE node_id = $1", "I", n.id);
	if (rc >= 0)
		rc = pg_done(s, "revoke registration", "DELETE FROM regs WHERE node_id = $1", "I",
			     n.id);
	return finish(s, rc < 0 ? rc : 0);
}

/* The rows are read first and the callbacks run afterwards, so a
 * callback may call back into the store (even write). */
static int pg_node_foreach(struct store *st, int64_t adapter_id,
			   int (*cb)(const struct store_node *n, void *arg), void *arg)
{
	struct store_pg *s = to_pg(st);
	struct store_node *all;
	PGresult *r;
	int rc, n;

	r = pg_rows(s, &rc, "node list", "SELECT " NODE_COLS " FROM nodes "
		    "WHERE $1::BIGINT < 0 OR adapter_id = $1::BIGINT ORDER BY id", "I", adapter_id);
	if (!r)
		return rc;
	all = rows_read(r, STORE_NODE_NCOLS, sizeof(*all), row_node, &n);
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (cb(&all[i], arg))
			break;
	free(all);
	return 0;
}

/* ---- node-NMS common keys ---- */

/* The new key and the end of the node's older ones, in one transaction:
 * a node has one live common key. */
static int pg_key_put(struct store *st, const struct store_key *k)
{
	struct store_pg *s = to_pg(st);
	int rc;

	if ((rc = begin(s, false)) < 0)
		return rc;
	/* One key_put per node at a time (another host's included): the
	 * second sees the first's key and ends it. */
	rc = pg_done(s, "key put: lock", "SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", "I",
		     k->node_id);
	if (rc >= 0)
		rc = pg_done(s, "key put", "INSERT INTO keys (key_id, node_id, key, expires) "
		     "VALUES ($1, $2, $3, $4)", "IIkI", (int64_t)k->key_id, k->node_id, k->key,
		     k->expires);
	if (rc >= 0)
		rc = pg_done(s, "key put: older keys", "DELETE FROM keys WHERE node_id = $1 AND "
			     "key_id <> $2", "II", k->node_id, (int64_t)k->key_id);
	rc = finish(s, rc);
	return rc < 0 ? rc : 0;
}

static int pg_key_get(struct store *st, uint64_t key_id, struct store_key *k)
{
	struct store_pg *s = to_pg(st);
	unsigned char *raw;
	size_t rawlen = 0;
	PGresult *r;
	int rc;

	memset(k, 0, sizeof(*k));
	r = pg_rows(s, &rc, "key get", "SELECT key_id, node_id, key, expires, mark FROM keys "
		    "WHERE key_id = $1", "I", (int64_t)key_id);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return -ENOENT;
	}
	k->key_id = (uint64_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	k->node_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	k->expires = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	k->mark = (uint64_t)strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	/* bytea as text, in whichever bytea_output the server uses */
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 2), &rawlen);
	if (!raw || rawlen != CY_KEY_LEN)
		rc = -EIO;
	else
		memcpy(k->key, raw, CY_KEY_LEN);
	if (raw) {
		cy_wipe(raw, rawlen);
		PQfreemem(raw);
	}
	cy_wipe(PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)));
	PQclear(r);
	if (rc < 0) {
		log_err("store %s: key %016" PRIx64 " has a bad length", s->where, key_id);
		cy_wipe(k, sizeof(*k));
	}
	return rc;
}

static int pg_key_delete(struct store *st, uint64_t key_id)
{
	return one_row(pg_done(to_pg(st), "key delete", "DELETE FROM keys WHERE key_id = $1", "I",
			       (int64_t)key_id));
}

static int pg_key_expire(struct store *st, int64_t now)
{
	return pg_done(to_pg(st), "key expiry", "DELETE FROM keys WHERE expires <= $1", "I", now);
}

/* ---- registrations ---- */

static int pg_reg_put(struct store *st, const struct store_reg *r)
{
	char observed[ADDR_STR_MAX], list[STORE_ADDRS_TEXT_MAX];
	int rc;

	if (store_reg_text(r, observed, list) < 0)
		return -EINVAL;
	rc = pg_done(to_pg(st), "registration put",
		     "INSERT INTO regs (" REG_COLS ") "
		     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
		     "ON CONFLICT (node_id) DO UPDATE SET key_id = excluded.key_id, "
		     "observed = excluded.observed, addrs = excluded.addrs, "
		     "families = excluded.families, nat = excluded.nat, "
		     "counter = excluded.counter, updated = excluded.updated, "
		     "expires = excluded.expires, mapping = excluded.mapping, host = excluded.host",
		     "IIttiiIIIit", r->node_id, (int64_t)r->key_id, observed, list,
		     (int)r->families, r->nat ? 1 : 0, (int64_t)r->counter, r->updated, r->expires,
		     (int)r->mapping, r->host);
	return rc < 0 ? rc : 0;
}

/* PostgreSQL array literals, built up: "{1,2}" and "{\"a\",\"b\"}"
 * (arr_put adds one element, quoted and escaped when text; arr_close
 * ends it).  false: out of memory. */
struct pg_array {
	char *s;
	size_t len, cap;
};

static bool arr_room(struct pg_array *a, size_t more)
{
	char *s;

	if (a->len + more <= a->cap)
		return true;
	s = realloc(a->s, 2 * (a->len + more));
	if (!s)
		return false;
	a->s = s;
	a->cap = 2 * (a->len + more);
	return true;
}

static bool arr_put(struct pg_array *a, const char *text, bool quote)
{
	if (!arr_room(a, 2 * strlen(text) + 4))
		return false;
	a->s[a->len] = a->len ? ',' : '{';
	a->len++;
	if (quote)
		a->s[a->len++] = '"';
	for (; *text; text++) {
		if (quote && (*text == '"' || *text == '\\'))
			a->s[a->len++] = '\\';
		a->s[a->len++] = *text;
	}
	if (quote)
		a->s[a->len++] = '"';
	return true;
}

static bool arr_int(struct pg_array *a, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	return arr_put(a, num, false);
}

static bool arr_close(struct pg_array *a)
{
	if (!a->len || !arr_room(a, 2))
		return false;
	a->s[a->len++] = '}';
	a->s[a->len] = '\0';
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every keepalive in one statement (one round trip, however many): the
 * rows come as arrays, unnest pairs them up, and the node ids of the rows
 * written come back (a node appears once in v: its registration is one
 * row). */
static int pg_reg_touch(struct store *st, const struct store_reg *v, size_t n, int *result)
{
	struct store_pg *s = to_pg(st);
	char observed[ADDR_STR_MAX], list[STORE_ADDRS_TEXT_MAX];
	struct pg_array a[7] = { 0 };
	int64_t *done = NULL;
	bool ok = true;
	PGresult *r = NULL;
	int rc = -ENOMEM, rows = 0;

	for (size_t i = 0; ok && i < n; i++) {
		if (store_reg_text(&v[i], observed, list) < 0)
			observed[0] = '\0';   /* matches no registration */
		ok = arr_int(&a[0], v[i].node_id) && arr_int(&a[1], (int64_t)v[i].key_id) &&
		     arr_put(&a[2], v[i].host, true) && arr_put(&a[3], observed, true) &&
		     arr_int(&a[4], (int64_t)v[i].counter) && arr_int(&a[5], v[i].updated) &&
		     arr_int(&a[6], v[i].expires);
	}
	for (int i = 0; ok && i < 7; i++)
		ok = arr_close(&a[i]);
	if (ok)
		r = pg_rows(s, &rc, "registration touch",
			    "UPDATE regs r SET counter = GREATEST(r.counter, t.c), updated = t.u, "
			    "expires = t.e FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
			    "$4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) "
			    "AS t(node_id, key_id, host, observed, c, u, e) "
			    "WHERE r.node_id = t.node_id AND r.key_id = t.key_id AND r.host = t.host "
			    "AND r.observed = t.observed AND r.expires > t.u RETURNING r.node_id",
			    "ttttttt", a[0].s, a[1].s, a[2].s, a[3].s, a[4].s, a[5].s, a[6].s);
	if (r) {
		rows = PQntuples(r);
		done = malloc((rows ? (size_t)rows : 1) * sizeof(*done));
		for (int i = 0; done && i < rows; i++)
			done[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		PQclear(r);
		rc = done ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		qsort(done, (size_t)rows, sizeof(*done), cmp_i64);
		for (size_t i = 0; i < n; i++)
			result[i] = bsearch(&v[i].node_id, done, (size_t)rows, sizeof(*done),
					    cmp_i64) ? 0 : -ENOENT;
	}
	free(done);
	for (int i = 0; i < 7; i++)
		free(a[i].s);
	return rc;
}

static int pg_reg_get(struct store *st, int64_t node_id, struct store_reg *reg)
{
	const char *v[STORE_REG_NCOLS];
	PGresult *r;
	int rc;

	r = pg_rows(to_pg(st), &rc, "registration get",
		    "SELECT " REG_COLS " FROM regs WHERE node_id = $1", "I", node_id);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		rc = -ENOENT;
	} else {
		row_texts(r, 0, v, STORE_REG_NCOLS);
		store_row_reg(v, reg);
	}
	PQclear(r);
	return rc;
}

/* The registrations that go leave their counter marks on their keys: one
 * statement, the rows deleted counted. */
#define REG_GONE_MARK(where)                                                         \
	"WITH gone AS (DELETE FROM regs WHERE " where " RETURNING key_id, counter), " \
	"marked AS (UPDATE keys k SET mark = GREATEST(k.mark, g.counter) FROM gone g " \
	"WHERE k.key_id = g.key_id) SELECT count(*) FROM gone"

static int reg_gone(struct store_pg *s, const char *what, const char *sql, int64_t arg)
{
	PGresult *r;
	int rc;

	r = pg_rows(s, &rc, what, sql, "I", arg);
	if (!r)
		return rc;
	rc = PQntuples(r) == 1 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : -EIO;
	PQclear(r);
	return rc;
}

static int pg_reg_delete(struct store *st, int64_t node_id)
{
	return one_row(reg_gone(to_pg(st), "registration delete",
				REG_GONE_MARK("node_id = $1"), node_id));
}

static int pg_reg_expire(struct store *st, int64_t now)
{
	return reg_gone(to_pg(st), "registration expiry", REG_GONE_MARK("expires <= $1"), now);
}

static int pg_reg_foreach(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
			  void *arg)
{
	struct store_reg *all;
	PGresult *r;
	int rc, n;

	r = pg_rows(to_pg(st), &rc, "registration list",
		    "SELECT " REG_COLS " FROM regs ORDER BY node_id", "");
	if (!r)
		return rc;
	all = rows_read(r, STORE_REG_NCOLS, sizeof(*all), row_reg, &n);
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (cb(&all[i], arg))
			break;
	free(all);
	return 0;
}

/* ---- signals between hosts: NOTIFY, and a LISTEN connection ---- */

static int pg_notify(struct store *st, const char *channel, const char *payload)
{
	struct store_pg *s = to_pg(st);
	PGresult *r;
	int rc;

	r = pg_rows(s, &rc, "notify", "SELECT pg_notify($1, $2)", "tt", channel, payload);
	PQclear(r);
	return rc;
}

#define PG_BUS_RETRY_S 2   /* a lost LISTEN connection is made again this often */
#define PG_BUS_POLL_MS 100 /* ...and looked for this often while being made */

struct store_bus {
	struct event_base *base;
	char *url;
	char channel[64];
	store_bus_cb cb;
	void *arg;
	PGconn *db;
	struct event *rd;        /* the connection's socket, once connected */
	struct pg_attempt *attempt;  /* a connection being made, or NULL */
	struct event *retry;     /* while there is none: starts one, then looks
				  * for its end every PG_BUS_POLL_MS */
	struct ratelimit rl;
};

static void bus_drop(struct store_bus *b)
{
	if (b->rd)
		event_free(b->rd);
	b->rd = NULL;
	PQfinish(b->db);
	b->db = NULL;
}

/* The connection failed (why): another in PG_BUS_RETRY_S. */
static void bus_retry_later(struct store_bus *b, const char *why)
{
	struct timeval tv = { PG_BUS_RETRY_S, 0 };
	char err[512];

	snprintf(err, sizeof(err), "%s", why);
	store_url_redact(err);
	LOG_RATELIMITED(&b->rl, "store: listening for other hosts: %s", err);
	bus_drop(b);
	evtimer_add(b->retry, &tv);
}

static void bus_read(evutil_socket_t fd, short what, void *arg)
{
	struct store_bus *b = arg;
	PGnotify *nt;
	PGresult *r;

	if (!PQconsumeInput(b->db)) {
		bus_retry_later(b, PQerrorMessage(b->db));
		return;
	}
	/* the answers to the LISTENs */
	while (!PQisBusy(b->db) && (r = PQgetResult(b->db))) {
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		PQclear(r);
		if (!ok) {
			bus_retry_later(b, PQerrorMessage(b->db));
			return;
		}
	}
	while ((nt = PQnotifies(b->db))) {
		b->cb(b->arg, nt->relname, nt->extra);
		cy_wipe(nt->extra, strlen(nt->extra));
		PQfreemem(nt);
	}
}

/* On a made connection: LISTEN on the host's channel and the one for
 * all, sent without waiting; their answers, and then the notifications,
 * come to bus_read().  0, or -1. */
static int bus_listen(struct store_bus *b)
{
	const char *chans[] = { b->channel, STORE_CHANNEL_ALL };
	char sql[256] = "";
	size_t len = 0;
	char *id;

	PQsetErrorVerbosity(b->db, PQERRORS_TERSE);
	if (PQsetnonblocking(b->db, 1) < 0)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		id = PQescapeIdentifier(b->db, chans[i], strlen(chans[i]));
		if (!id)
			return -1;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "LISTEN %s;", id);
		PQfreemem(id);
		if (len >= sizeof(sql))
			return -1;
	}
	if (!PQsendQuery(b->db, sql) || PQflush(b->db) < 0)
		return -1;
	b->rd = event_new(b->base, PQsocket(b->db), EV_READ | EV_PERSIST, bus_read, b);
	if (!b->rd || event_add(b->rd, NULL) < 0)
		return -1;
	return 0;
}

/* A lost LISTEN connection is made again on a thread (struct
 * pg_attempt), looked for every PG_BUS_POLL_MS: the loop never waits for
 * the server or for a name lookup. */
static void bus_retry(evutil_socket_t fd, short what, void *arg)
{
	struct store_bus *b = arg;
	struct timeval poll_tv = { 0, PG_BUS_POLL_MS * 1000 };
	PGconn *c;

	if (!b->attempt) {
		b->attempt = attempt_start(b->url);
		if (!b->attempt) {
			bus_retry_later(b, "cannot start connecting");
			return;
		}
	}
	if (!attempt_take(b->attempt, &c)) {
		evtimer_add(b->retry, &poll_tv);
		return;
	}
	b->attempt = NULL;
	b->db = c;
	if (!c || PQstatus(c) != CONNECTION_OK) {
		bus_retry_later(b, c ? PQerrorMessage(c) : "out of memory");
		return;
	}
	if (bus_listen(b) < 0) {
		bus_retry_later(b, PQerrorMessage(b->db));
		return;
	}
	log_info("store: listening for the other cloud hosts again");
}

/* At start: connected while the caller waits, so that a store that
 * cannot be reached is an error at once.  0, or -1 with err set. */
static int bus_connect(struct store_bus *b, char *err, size_t errlen)
{
	b->db = pg_connect(b->url);
	if (b->db && PQstatus(b->db) == CONNECTION_OK && bus_listen(b) == 0)
		return 0;
	snprintf(err, errlen, "postgresql: cannot listen: %s",
		 b->db ? PQerrorMessage(b->db) : "out of memory");
	store_url_redact(err);
	bus_drop(b);
	return -1;
}

struct store_bus *store_pg_bus_new(struct event_base *base, const char *url, const char *channel,
				   store_bus_cb cb, void *arg, char *err, size_t errlen)
{
	struct store_bus *b = calloc(1, sizeof(*b));

	if (!b || !(b->url = strdup(url)) || strlen(channel) >= sizeof(b->channel)) {
		snprintf(err, errlen, "store: cannot listen: %s", b ? "channel name too long" :
									  "out of memory");
		store_pg_bus_free(b);
		return NULL;
	}
	b->base = base;
	strcpy(b->channel, channel);
	b->cb = cb;
	b->arg = arg;
	b->retry = evtimer_new(base, bus_retry, b);
	if (!b->retry || bus_connect(b, err, errlen) < 0) {
		store_pg_bus_free(b);
		return NULL;
	}
	return b;
}

void store_pg_bus_free(struct store_bus *b)
{
	if (!b)
		return;
	bus_drop(b);
	attempt_free(b->attempt);
	if (b->retry)
		event_free(b->retry);
	free(b->url);
	free(b);
}

/* ---- open, migrate, close ---- */

static void pg_close(struct store *st)
{
	struct store_pg *s = to_pg(st);

	attempt_free(s->attempt);
	PQfinish(s->db);
	for (size_t i = 0; i < s->nprep; i++)
		free(s->prep[i].sql);
	if (s->url)
		cy_wipe(s->url, strlen(s->url));   /* libpq's form may hold a password */
	free(s->url);
	free(s);
}

/* Every migration not yet applied, in one transaction that holds an
 * advisory lock: hosts starting together migrate once. */
static int migrate(struct store_pg *s, char *err, size_t errlen)
{
	char sql[96];
	int64_t version;
	PGresult *r;
	size_t i;
	int rc;

	if ((rc = begin(s, false)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
		 (long long)PG_MIGRATE_LOCK);
	if ((rc = exec(s, sql)) < 0 ||
	    (rc = exec(s, "CREATE TABLE IF NOT EXISTS schema_version "
			  "(version INTEGER NOT NULL)")) < 0)
		goto fail_tx;
	r = pg_rows(s, &rc, "schema version", "SELECT COALESCE(MAX(version), 0) "
		    "FROM schema_version", "");
	if (!r)
		goto fail_tx;
	version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld is newer than this build (%d)",
			 s->where, (long long)version, STORE_SCHEMA_VERSION);
		finish(s, -EPROTO);
		return -EPROTO;
	}
	for (i = (size_t)version; i < CONF_ARRAY_LEN(migrations); i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version) VALUES (%zu)",
			 i + 1);
		if ((rc = exec(s, migrations[i])) < 0 || (rc = exec(s, sql)) < 0)
			goto fail_tx;
		log_debug("store %s: migrated to schema version %zu", s->where, i + 1);
	}
	if ((rc = finish(s, 0)) < 0)
		goto fail;
	return 0;
fail_tx:
	finish(s, rc);
fail:
	snprintf(err, errlen, "%s: schema migration failed: %s", s->where,
		 s->db ? PQerrorMessage(s->db) : "connection dropped");
	return rc < 0 ? rc : -EIO;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.meta_set = pg_meta_set,
	.meta_add = pg_meta_add,
	.meta_get = pg_meta_get,
	.counter_reserve = pg_counter_reserve,
	.node_add = pg_node_add,
	.node_renew_cert = pg_node_renew_cert,
	.node_cert_used = pg_node_cert_used,
	.node_set_tags = pg_node_set_tags,
	.node_set_pwhash = pg_node_set_pwhash,
	.node_by_name = pg_node_by_name,
	.node_by_fqdn = pg_node_by_fqdn,
	.node_by_id = pg_node_by_id,
	.node_by_serial = pg_node_by_serial,
	.node_by_vip4 = pg_node_by_vip4,
	.node_by_vip6 = pg_node_by_vip6,
	.node_revoke = pg_node_revoke,
	.node_foreach = pg_node_foreach,
	.key_put = pg_key_put,
	.key_get = pg_key_get,
	.key_delete = pg_key_delete,
	.key_expire = pg_key_expire,
	.reg_put = pg_reg_put,
	.reg_touch = pg_reg_touch,
	.reg_get = pg_reg_get,
	.reg_delete = pg_reg_delete,
	.reg_expire = pg_reg_expire,
	.reg_foreach = pg_reg_foreach,
	.notify = pg_notify,
};

int store_pg_open(struct store **out, const char *url, char *err, size_t errlen)
{
	struct store_pg *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &pg_ops;
	s->url = strdup(url);
	s->db = s->url ? pg_connect(url) : NULL;
	if (!s->db || PQstatus(s->db) != CONNECTION_OK || pg_session(s) < 0) {
		snprintf(err, errlen, "postgresql: cannot connect: %s",
			 s->db ? PQerrorMessage(s->db) : "out of memory");
		store_url_redact(err);
		rc = -EIO;
		goto fail;
	}
	snprintf(s->where, sizeof(s->where), "postgresql %s/%s",
		 PQhost(s->db) ? PQhost(s->db) : "?", PQdb(s->db) ? PQdb(s->db) : "?");
	rc = migrate(s, err, errlen);
	if (rc < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	pg_close(&s->base);
	return rc;
}
