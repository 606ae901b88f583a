#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "wire.h"

#define TOKENS_MAX (3 + POLICY_FLOWS_MAX)

enum subject_kind { SUBJ_ANY, SUBJ_NAME, SUBJ_TAG };

struct subject {
	uint8_t kind;
	char s[CY_FQDN_MAX + 1];
};

struct range {
	uint16_t lo, hi;
};

struct flow {
	uint8_t proto;                     /* enum policy_proto */
	uint8_t nranges;                   /* 0: every port */
	struct range r[POLICY_RANGES_MAX];
};

struct rule {
	unsigned line;
	struct subject from, to;
	uint8_t nflows;                    /* 0: everything */
	struct flow *flows;
};

struct policy {
	size_t n;
	struct rule *rules;
};

/* ---- errors ---- */

struct parse {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

static int perr(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parse *ps, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->file, ps->line, why);
	return -1;
}

/* ---- tokens ---- */

static int parse_subject(struct parse *ps, const char *tok, const char *what,
			 struct subject *s)
{
	memset(s, 0, sizeof(*s));
	if (!strcmp(tok, "*")) {
		s->kind = SUBJ_ANY;
		return 0;
	}
	if (!strncmp(tok, "tag:", 4)) {
		if (!cy_label_ok(tok + 4))
			return perr(ps, "%s: bad tag '%s' (a lower-case DNS label)", what, tok + 4);
		s->kind = SUBJ_TAG;
		snprintf(s->s, sizeof(s->s), "%s", tok + 4);
		return 0;
	}
	if (strlen(tok) > CY_FQDN_MAX || (!cy_label_ok(tok) && !cy_domain_ok(tok)))
		return perr(ps, "%s: '%s' is not a node name, tag:TAG or *", what, tok);
	s->kind = SUBJ_NAME;
	snprintf(s->s, sizeof(s->s), "%s", tok);
	return 0;
}

/* "N" or "N-M", 1..65535. */
static bool parse_range(const char *s, size_t len, struct range *r)
{
	unsigned long v[2] = { 0, 0 };
	int k = 0;
	size_t digits = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-' && k == 0 && digits) {
			k = 1;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 5) {
			v[k] = v[k] * 10 + (unsigned long)(s[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	if (!digits)
		return false;
	if (k == 0)
		v[1] = v[0];
	if (!v[0] || v[0] > 65535 || v[1] > 65535 || v[1] < v[0])
		return false;
	r->lo = (uint16_t)v[0];
	r->hi = (uint16_t)v[1];
	return true;
}

int policy_proto(const char *name, size_t len)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = { { "any", POLICY_ANY }, { "icmp", POLICY_ICMP }, { "tcp", POLICY_TCP },
		       { "udp", POLICY_UDP } };

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strlen(protos[i].name) == len && !strncmp(name, protos[i].name, len))
			return protos[i].proto;
	return -1;
}

static int parse_flow(struct parse *ps, const char *tok, struct flow *f)
{
	const char *slash = strchr(tok, '/'), *p;
	size_t plen = slash ? (size_t)(slash - tok) : strlen(tok);
	int proto = policy_proto(tok, plen);

	memset(f, 0, sizeof(*f));
	if (proto < 0)
		return perr(ps, "unknown protocol '%.*s' (tcp, udp, icmp or any)", (int)plen, tok);
	f->proto = (uint8_t)proto;
	if (!slash)
		return 0;
	if (f->proto != POLICY_TCP && f->proto != POLICY_UDP)
		return perr(ps, "'%s': only tcp and udp have ports", tok);
	for (p = slash + 1;; p++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (f->nranges == POLICY_RANGES_MAX)
			return perr(ps, "'%s': more than %d port ranges", tok, POLICY_RANGES_MAX);
		if (!parse_range(p, len, &f->r[f->nranges]))
			return perr(ps, "'%s': bad port or range '%.*s' (1-65535, N or N-M)", tok,
				    (int)len, p);
		f->nranges++;
		if (!end)
			break;
		p = end;
	}
	return 0;
}

/* One line's tokens (whitespace-separated, comment cut) into tok. */
static int split(struct parse *ps, char *line, char **tok, size_t *n)
{
	char *hash = strchr(line, '#'), *save = NULL, *t;

	if (hash)
		*hash = '\0';
	*n = 0;
	for (t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (*n == TOKENS_MAX)
			return perr(ps, "too many items (at most %d protocols per rule)",
				    POLICY_FLOWS_MAX);
		tok[(*n)++] = t;
	}
	return 0;
}

static int parse_rule(struct parse *ps, char **tok, size_t n, struct rule *r)
{
	struct flow flows[POLICY_FLOWS_MAX];

	memset(r, 0, sizeof(*r));
	r->line = ps->line;
	if (strcmp(tok[0], "allow"))
		return perr(ps, "unknown rule '%s' (only allow)", tok[0]);
	if (n < 3)
		return perr(ps, "allow needs FROM and TO");
	if (parse_subject(ps, tok[1], "FROM", &r->from) < 0 ||
	    parse_subject(ps, tok[2], "TO", &r->to) < 0)
		return -1;
	for (size_t i = 3; i < n; i++)
		if (parse_flow(ps, tok[i], &flows[r->nflows++]) < 0)
			return -1;
	if (r->nflows) {
		r->flows = malloc(r->nflows * sizeof(*r->flows));
		if (!r->flows)
			return perr(ps, "out of memory");
		memcpy(r->flows, flows, r->nflows * sizeof(*r->flows));
	}
	return 0;
}

/* The next line from c into buf (NUL-terminated, newline dropped): 1, 0
 * at the end, -1 for a bad byte or an overlong line. */
static int next_line(struct parse *ps, struct cur *c, char *buf, size_t cap)
{
	size_t len = 0;
	uint8_t ch;

	if (cur_empty(c))
		return 0;
	while (cur_get_u8(c, &ch) && ch != '\n') {
		if (ch < 0x20 && ch != '\t' && ch != '\r')
			return perr(ps, "control character 0x%02x", ch);
		if (ch >= 0x7f)
			return perr(ps, "non-ASCII byte 0x%02x", ch);
		if (len + 1 >= cap)
			return perr(ps, "line longer than %d bytes", POLICY_LINE_MAX - 1);
		buf[len++] = (char)ch;
	}
	buf[len] = '\0';
	return 1;
}

/* ---- the policy ---- */

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->rules[i].flows);
	free(p->rules);
	free(p);
}

size_t policy_rules(const struct policy *p)
{
	return p ? p->n : 0;
}

int policy_parse(const char *text, size_t len, const char *file, struct policy **out,
		 char *err, size_t errlen)
{
	struct parse ps = { .file = file ? file : "policy", .err = err, .errlen = errlen };
	struct cur c = cur_make(text, len);
	struct policy *p = calloc(1, sizeof(*p));
	char line[POLICY_LINE_MAX], *tok[TOKENS_MAX];
	size_t cap = 0, n;
	int rc;

	*out = NULL;
	if (!p)
		return perr(&ps, "out of memory");
	while (ps.line++, (rc = next_line(&ps, &c, line, sizeof(line))) > 0) {
		if (split(&ps, line, tok, &n) < 0)
			goto fail;
		if (!n)
			continue;
		if (p->n == POLICY_RULES_MAX) {
			perr(&ps, "more than %d rules", POLICY_RULES_MAX);
			goto fail;
		}
		if (p->n == cap) {
			struct rule *r = realloc(p->rules, (cap ? cap * 2 : 16) * sizeof(*r));

			if (!r) {
				perr(&ps, "out of memory");
				goto fail;
			}
			p->rules = r;
			cap = cap ? cap * 2 : 16;
		}
		if (parse_rule(&ps, tok, n, &p->rules[p->n]) < 0)
			goto fail;
		p->n++;
	}
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	policy_free(p);
	return -1;
}

int policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t got;
	int fd, rc;

	*out = NULL;
	/* Non-blocking: a FIFO put there must not hang the NMS. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > POLICY_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
			 POLICY_FILE_MAX);
		close(fd);
		return -1;
	}
	text = malloc((size_t)st.st_size + 1);
	got = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		snprintf(err, errlen, "%s: cannot read it", path);
		free(text);
		return -1;
	}
	rc = policy_parse(text, (size_t)got, path, out, err, errlen);
	free(text);
	return rc;
}

/* ---- deciding ---- */

static bool has_tag(const char *tags, const char *tag)
{
	size_t tl = strlen(tag);

	for (const char *p = tags; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == tl && !strncmp(p, tag, len))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool subject_is(const struct subject *s, const struct policy_node *n)
{
	switch (s->kind) {
	case SUBJ_ANY: return true;
	case SUBJ_TAG: return n->tags && has_tag(n->tags, s->s);
	default:
		return (n->name && !strcmp(s->s, n->name)) ||
		       (n->fqdn && !strcasecmp(s->s, n->fqdn));
	}
}

static bool flow_covers(const struct flow *f, uint8_t proto, uint16_t port)
{
	if (proto == 58)
		proto = POLICY_ICMP;   /* ICMPv6 */
	if (f->proto != POLICY_ANY && f->proto != proto)
		return false;
	if (!f->nranges)
		return true;
	for (unsigned i = 0; i < f->nranges; i++)
		if (port >= f->r[i].lo && port <= f->r[i].hi)
			return true;
	return false;
}

static bool decide(const struct policy *p, const struct policy_node *from,
		   const struct policy_node *to, bool any_flow, uint8_t proto, uint16_t port,
		   unsigned *line)
{
	*line = 0;
	if (!p)
		return true;
	for (size_t i = 0; i < p->n; i++) {
		const struct rule *r = &p->rules[i];
		bool ok = any_flow || !r->nflows;

		if (!subject_is(&r->from, from) || !subject_is(&r->to, to))
			continue;
		for (unsigned k = 0; !ok && k < r->nflows; k++)
			ok = flow_covers(&r->flows[k], proto, port);
		if (ok) {
			*line = r->line;
			return true;
		}
	}
	return false;
}

bool policy_allows(const struct policy *p, const struct policy_node *from,
		   const struct policy_node *to, unsigned *line)
{
	return decide(p, from, to, true, 0, 0, line);
}

bool policy_allows_flow(const struct policy *p, const struct policy_node *from,
			const struct policy_node *to, uint8_t proto, uint16_t port,
			unsigned *line)
{
	return decide(p, from, to, false, proto, port, line);
}

int policy_flows(const struct policy *p, const struct policy_node *from,
		 const struct policy_node *to, struct policy_flow *out, size_t max, bool *all)
{
	size_t n = 0;
	bool full = false;

	*all = !p;
	for (size_t i = 0; p && i < p->n && !*all; i++) {
		const struct rule *r = &p->rules[i];

		if (!subject_is(&r->from, from) || !subject_is(&r->to, to))
			continue;
		if (!r->nflows) {
			*all = true;
			break;
		}
		for (unsigned k = 0; k < r->nflows; k++) {
			const struct flow *f = &r->flows[k];
			unsigned nr = f->nranges ? f->nranges : 1;

			if (f->proto == POLICY_ANY) {
				*all = true;
				break;
			}
			for (unsigned j = 0; j < nr; j++) {
				/* Full: the rest is left out, but a later rule
				 * may still allow everything. */
				if (n == max) {
					full = true;
					break;
				}
				out[n].proto = f->proto;
				out[n].lo = f->nranges ? f->r[j].lo : 0;
				out[n].hi = f->nranges ? f->r[j].hi : 65535;
				n++;
			}
		}
	}
	return *all ? 0 : full ? -1 : (int)n;
}

int policy_tags_check(const char *tags, char *err, size_t errlen)
{
	char tag[CY_FQDN_MAX + 1];

	if (strlen(tags) > POLICY_TAGS_MAX) {
		snprintf(err, errlen, "tags longer than %d bytes in all", POLICY_TAGS_MAX);
		return -1;
	}
	for (const char *p = tags; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		snprintf(tag, sizeof(tag), "%.*s", (int)len, p);
		if (!cy_label_ok(tag)) {
			snprintf(err, errlen, "bad tag '%s' (a lower-case DNS label)", tag);
			return -1;
		}
		/* Seen before this one? */
		for (const char *q = tags; q < p;) {
			const char *qe = strchr(q, ',');

			if ((size_t)(qe - q) == len && !strncmp(q, p, len)) {
				snprintf(err, errlen, "tag '%s' given twice", tag);
				return -1;
			}
			q = qe + 1;
		}
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(err, errlen, "empty tag");
			return -1;
		}
	}
	return 0;
}
