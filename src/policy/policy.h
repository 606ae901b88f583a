/* The access policy (docs/policy.md): which node may reach which, and on
 * what.  A text file, one rule a line:
 *
 *   # cameras talk RTSP to the recorders, admins reach everything
 *   allow tag:cam tag:nvr tcp/554
 *   allow tag:admin *
 *   allow laptop nas tcp/22,445 udp/5353
 *
 *   allow FROM TO [PROTO[/PORTS]]...
 *     FROM, TO   a node's name (or FQDN), tag:TAG, or * (any node)
 *     PROTO      tcp, udp, icmp (ICMP and ICMPv6), or any
 *     PORTS      N, N-M, or a comma list of them (tcp and udp only)
 *
 * '#' starts a comment.  Without PROTO a rule allows everything between
 * the two.  FROM reaches TO: FROM may select a route to TO and send it
 * what the rule names; TO answers on that flow (the replies of a rule's
 * traffic are allowed).  What no rule allows is denied.  No policy at all
 * (NULL): everything is allowed.
 *
 * Parsing reads the text through the bounds-checked cursor (buf.h); an
 * error names the file, the line and what is wrong, and yields no policy. */
#ifndef CY_POLICY_H
#define CY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_LINE_MAX 1024
#define POLICY_RULES_MAX 4096
#define POLICY_FLOWS_MAX 16            /* PROTO[/PORTS] items per rule */
#define POLICY_RANGES_MAX 16           /* port ranges per item */
#define POLICY_TAGS_MAX 255            /* a node's tags: "a,b,c", this many bytes */
#define POLICY_FILE_MAX (1 << 20)

enum policy_proto { POLICY_ANY = 0, POLICY_ICMP = 1, POLICY_TCP = 6, POLICY_UDP = 17 };
/* A protocol's name (len bytes: tcp, udp, icmp, any) as enum
 * policy_proto, or -1. */
int policy_proto(const char *name, size_t len);

/* A node as the policy sees it. */
struct policy_node {
	const char *name;              /* the label */
	const char *fqdn;
	const char *tags;              /* comma-separated labels, "" none */
};

struct policy;

/* text (len bytes, from `file` for the messages): 0 with *out, or -1 with
 * "FILE:LINE: what is wrong" in err. */
int policy_parse(const char *text, size_t len, const char *file, struct policy **out,
		 char *err, size_t errlen);
/* The file at path: 0 with *out; -ENOENT when it does not exist (no
 * policy); -1 with err as policy_parse, or when it cannot be read. */
int policy_load(const char *path, struct policy **out, char *err, size_t errlen);
void policy_free(struct policy *p);
size_t policy_rules(const struct policy *p);

/* May `from` reach `to` at all (a route between them)?  *line: the first
 * rule that allows it, 0 when none does (or p is NULL: allowed). */
bool policy_allows(const struct policy *p, const struct policy_node *from,
		   const struct policy_node *to, unsigned *line);
/* ...with this flow: proto (an IP protocol number; 58, ICMPv6, counts as
 * icmp) to port (0 for protocols without ports). */
bool policy_allows_flow(const struct policy *p, const struct policy_node *from,
			const struct policy_node *to, uint8_t proto, uint16_t port,
			unsigned *line);

/* What from may start towards to, as the data paths enforce it: the
 * flows of every rule naming the pair, *all when one of them allows
 * everything (then nothing is written).  proto: an IP protocol number or
 * POLICY_ANY; lo..hi: the destination ports (0..65535 for any, or for
 * protocols without ports).  Returns how many were written, or -1 when
 * more did not fit (the first max written: narrower, never wider). */
struct policy_flow {
	uint8_t proto;
	uint16_t lo, hi;
};
int policy_flows(const struct policy *p, const struct policy_node *from,
		 const struct policy_node *to, struct policy_flow *out, size_t max, bool *all);

/* A tag list as `cyphonic node add --tag` builds it: each label valid
 * (cy_label_ok), no duplicates, within POLICY_TAGS_MAX.  0 or -1 with
 * the reason in err. */
int policy_tags_check(const char *tags, char *err, size_t errlen);

#endif
