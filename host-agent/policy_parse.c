/*
 * The policy file, porthole-policy(5): a hand-written line parser and
 * its inverse.  One directive per line; '#' starts a comment; words are
 * separated by blanks; "..." quotes a word.  Every error names FILE:LINE
 * and what is wrong, all errors of a file are reported (up to a bound),
 * and a file with any error yields no policy at all.
 *
 *	mode loopback|refuse|allow
 *	lock
 *	max-forwards N
 *	max-connections N
 *	max-udp-buffer BYTES
 *	ACTION PROTO port PORTS [from ADDRESS] [to PORT|PORT-PORT|auto]
 *	allow|refuse unix NAME-PATTERN
 *	reach DEST [as GUEST-SIDE]		(reach.c)
 *	guest NAME|cid:N|ENDPOINT {
 *		RULE ... max-forwards N ... max-connections N ...
 *		max-udp-buffer BYTES	key FILE
 *	}
 *
 * The file is untrusted input like any other: lines, words, rules, guest
 * blocks and the file itself are bounded, and it is fuzzed
 * (tests/fuzz/fuzz_policy.c).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "number.h"
#include "xmalloc.h"

struct parser {
	const char		*name;		/* for FILE:LINE */
	int			 line;
	struct policy_file	*pf;
	int			 guest;		/* the open block, or -1 */
	int			 rules_cap;	/* allocated, doubling */
	int			 guests_cap;
	int			 reaches_cap;
	int			 nerrors;
	char			*errs;
	size_t			 errslen;
};

static void perr(struct parser *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr(struct parser *p, const char *fmt, ...)
{
	char	msg[512], line[640];
	va_list	ap;

	if (++p->nerrors > POLICY_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->line == 0)	/* the file as a whole */
		snprintf(line, sizeof line, "%s: %s\n", p->name, msg);
	else if (p->nerrors == POLICY_ERRORS_MAX)
		snprintf(line, sizeof line, "%s:%d: %s\n%s: too many errors, "
		    "stopping\n", p->name, p->line, msg, p->name);
	else
		snprintf(line, sizeof line, "%s:%d: %s\n", p->name, p->line,
		    msg);
	strlcat(p->errs, line, p->errslen);
}

/* A number (number.c) from 1 to max; -1 if it is not. */
static long
parse_number(const char *s, long max)
{
	const char	*errstr;
	long		 v;

	v = (long)number_parse(s, 1, max, &errstr);
	return errstr == NULL ? v : -1;
}

/* "N" or "N-M"; 0 on success. */
static int
parse_range(struct parser *p, const char *what, const char *s,
    struct port_range *r)
{
	char	 buf[32], *dash;
	long	 lo, hi;

	if (strlcpy(buf, s, sizeof buf) >= sizeof buf) {
		perr(p, "%s: \"%.40s...\" is not a port or a range", what, s);
		return -1;
	}
	if ((dash = strchr(buf, '-')) != NULL)
		*dash = '\0';
	lo = parse_number(buf, 65535);
	hi = dash != NULL ? parse_number(dash + 1, 65535) : lo;
	if (lo == -1 || hi == -1) {
		perr(p, "%s: \"%s\" is not a port (1-65535) or a range of "
		    "them", what, s);
		return -1;
	}
	if (hi < lo) {
		perr(p, "%s: range %ld-%ld is backwards", what, lo, hi);
		return -1;
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int
parse_ports(struct parser *p, struct policy_rule *r, const char *s)
{
	char	 buf[POLICY_LINE_MAX + 1], *item, *next;

	strlcpy(buf, s, sizeof buf);
	if (buf[0] == '\0') {
		perr(p, "port: expected a port, a range or a list");
		return -1;
	}
	if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' ||
	    strstr(buf, ",,") != NULL) {
		perr(p, "port list \"%s\" has an empty item", s);
		return -1;
	}
	for (item = buf; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (r->nports == POLICY_PORTS_MAX) {
			perr(p, "port list has more than %d items",
			    POLICY_PORTS_MAX);
			return -1;
		}
		if (parse_range(p, "port", item, &r->ports[r->nports]) == -1)
			return -1;
		r->nports++;
	}
	return 0;
}

/* 0.0.0.0, ::, 10.0.0.0/8, fd00::/8, wildcard, loopback */
static int
parse_from(struct parser *p, struct policy_rule *r, const char *s)
{
	char	 buf[64], *slash;
	long	 bits;
	int	 max, i;
	uint8_t	*b;

	if (strcmp(s, "wildcard") == 0 || strcmp(s, "loopback") == 0) {
		r->from = s[0] == 'w' ? FROM_WILDCARD : FROM_LOOPBACK;
		return 0;
	}
	if (strlcpy(buf, s, sizeof buf) >= sizeof buf)
		goto bad;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (addr_parse(buf, &r->net) == -1)
		goto bad;
	max = r->net.family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		if (strcmp(slash + 1, "0") == 0)
			bits = 0;
		else if ((bits = parse_number(slash + 1, max)) == -1) {
			perr(p, "from: prefix length \"/%s\" is not 0-%d",
			    slash + 1, max);
			return -1;
		}
	}
	/* No bits beyond the prefix: 10.0.0.1/8 is most likely a typo. */
	b = (uint8_t *)&r->net.u;
	for (i = (int)bits; i < max; i++)
		if (b[i / 8] & (0x80 >> (i % 8))) {
			perr(p, "from: %s has bits set beyond the prefix "
			    "length", s);
			return -1;
		}
	r->from = FROM_NET;
	r->prefix = (int)bits;
	return 0;
bad:
	perr(p, "from: \"%s\" is not an address, a CIDR, wildcard or "
	    "loopback", s);
	return -1;
}

static int
parse_to(struct parser *p, struct policy_rule *r, const char *s)
{
	struct port_range	to;
	unsigned int		n = r->ports[0].hi - r->ports[0].lo;

	if (strcmp(s, "auto") == 0) {
		r->to = TO_AUTO;
		return 0;
	}
	if (r->nports != 1) {
		perr(p, "to %s: needs a single port or range after port, not "
		    "a list", s);
		return -1;
	}
	if (parse_range(p, "to", s, &to) == -1)
		return -1;
	if (to.hi != to.lo && (unsigned int)(to.hi - to.lo) != n) {
		perr(p, "to: range %s has %u ports, port %u-%u has %u", s,
		    to.hi - to.lo + 1u, r->ports[0].lo, r->ports[0].hi, n + 1);
		return -1;
	}
	if (to.lo + n > 65535) {
		perr(p, "to: %u-%u goes beyond port 65535", to.lo, to.lo + n);
		return -1;
	}
	r->to = TO_PORT;
	r->to_port = to.lo;
	return 0;
}

static void
rule_text(struct policy_rule *r)
{
	static const char	*actions[] = { "allow", "loopback", "refuse",
				    "remap" };
	char			 one[32], net[PH_ADDRSTRLEN];
	char			*t = r->text;
	size_t			 len = sizeof r->text;
	int			 i;

	if (r->proto == PH_KIND_UNIX) {
		snprintf(t, len, "%s unix %s", actions[r->action],
		    r->sock_pattern);
		return;
	}
	snprintf(t, len, "%s %s port ", actions[r->action],
	    r->proto == 0 ? "any" : proto_name(r->proto));
	for (i = 0; i < r->nports; i++) {
		if (r->ports[i].lo == r->ports[i].hi)
			snprintf(one, sizeof one, "%s%u", i ? "," : "",
			    r->ports[i].lo);
		else
			snprintf(one, sizeof one, "%s%u-%u", i ? "," : "",
			    r->ports[i].lo, r->ports[i].hi);
		strlcat(t, one, len);
	}
	if (r->from == FROM_WILDCARD || r->from == FROM_LOOPBACK)
		strlcat(t, r->from == FROM_WILDCARD ? " from wildcard" :
		    " from loopback", len);
	else if (r->from == FROM_NET) {
		strlcat(t, " from ", len);
		strlcat(t, addr_ntop(&r->net, net, sizeof net), len);
		if (r->prefix != (r->net.family == AF_INET ? 32 : 128)) {
			snprintf(one, sizeof one, "/%d", r->prefix);
			strlcat(t, one, len);
		}
	}
	if (r->to == TO_AUTO)
		strlcat(t, " to auto", len);
	else if (r->to == TO_PORT) {
		if (r->ports[0].lo == r->ports[0].hi)
			snprintf(one, sizeof one, " to %u", r->to_port);
		else
			snprintf(one, sizeof one, " to %u-%u", r->to_port,
			    r->to_port + (r->ports[0].hi - r->ports[0].lo));
		strlcat(t, one, len);
	}
}

static int
parse_action(const char *s, enum policy_action *a)
{
	static const char	*names[] = { "allow", "loopback", "refuse",
				    "remap" };
	int			 i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*a = i;
			return 0;
		}
	return -1;
}

/* The rule, parsed, goes in the file's list. */
static void
add_rule(struct parser *p, struct policy_rule *r)
{
	if (p->pf->nrules == POLICY_RULES_MAX) {
		perr(p, "more than %d rules", POLICY_RULES_MAX);
		return;
	}
	rule_text(r);
	if (p->pf->nrules == p->rules_cap) {
		p->rules_cap = p->rules_cap == 0 ? 16 : p->rules_cap * 2;
		p->pf->rules = xreallocarray(p->pf->rules, p->rules_cap,
		    sizeof *r);
	}
	p->pf->rules[p->pf->nrules++] = *r;
}

/* allow|refuse unix NAME-PATTERN: a guest socket, by its name. */
static void
parse_unix_rule(struct parser *p, struct policy_rule *r, char **w, int nw)
{
	const char	*why;

	if (r->action != ACTION_ALLOW && r->action != ACTION_REFUSE) {
		perr(p, "%s unix: a guest socket is allowed or refused, "
		    "nothing else", w[0]);
		return;
	}
	if (nw != 3) {
		perr(p, "%s unix: expected one name pattern%s", w[0],
		    nw < 3 ? "" : ", and nothing after it");
		return;
	}
	if (ph_sockname_pattern_check(w[2], &why) == -1) {
		perr(p, "%s unix: bad name pattern \"%s\": %s", w[0], w[2],
		    why);
		return;
	}
	r->proto = PH_KIND_UNIX;
	strlcpy(r->sock_pattern, w[2], sizeof r->sock_pattern);
	add_rule(p, r);
}

/* ACTION PROTO port PORTS [from ADDRESS] [to PORT|auto] */
static void
parse_rule(struct parser *p, char **w, int nw)
{
	struct policy_rule	r;
	int			i, seen_from = 0, seen_to = 0;

	memset(&r, 0, sizeof r);
	r.line = p->line;
	r.guest = p->guest;
	parse_action(w[0], &r.action);
	if (nw >= 2 && strcmp(w[1], "unix") == 0) {
		parse_unix_rule(p, &r, w, nw);
		return;
	}
	if (nw < 2 || (strcmp(w[1], "tcp") != 0 && strcmp(w[1], "udp") != 0 &&
	    strcmp(w[1], "any") != 0)) {
		perr(p, "%s: expected tcp, udp, any or unix%s%s%s", w[0],
		    nw < 2 ? "" : ", not \"", nw < 2 ? "" : w[1],
		    nw < 2 ? "" : "\"");
		return;
	}
	r.proto = w[1][0] == 't' ? IPPROTO_TCP : w[1][0] == 'u' ?
	    IPPROTO_UDP : 0;
	if (nw < 4 || strcmp(w[2], "port") != 0) {
		perr(p, "%s %s: expected \"port\" and a port, a range or a "
		    "list", w[0], w[1]);
		return;
	}
	if (parse_ports(p, &r, w[3]) == -1)
		return;
	for (i = 4; i < nw; i += 2) {
		if (strcmp(w[i], "from") != 0 && strcmp(w[i], "to") != 0) {
			perr(p, "unexpected \"%s\": expected from or to", w[i]);
			return;
		}
		if (i + 1 == nw) {
			perr(p, "%s: expected %s", w[i], w[i][0] == 'f' ?
			    "an address" : "a port, a range or auto");
			return;
		}
		if ((w[i][0] == 'f' ? seen_from++ : seen_to++) > 0) {
			perr(p, "%s given twice", w[i]);
			return;
		}
		if ((w[i][0] == 'f' ? parse_from(p, &r, w[i + 1]) :
		    parse_to(p, &r, w[i + 1])) == -1)
			return;
	}
	if (r.action == ACTION_REMAP && r.to == TO_SAME) {
		perr(p, "remap: expected \"to PORT\" or \"to auto\"");
		return;
	}
	if (r.action == ACTION_REFUSE && r.to != TO_SAME) {
		perr(p, "refuse: a refused bind has no host port, \"to\" makes "
		    "no sense");
		return;
	}
	add_rule(p, &r);
}

/* The limits a line sets: the open guest block's, or the file's. */
static struct policy_limits *
limits_here(struct parser *p)
{
	if (p->guest == -1)
		return &p->pf->limits;
	return &p->pf->guests[p->guest].limits;
}

static void
parse_limit(struct parser *p, char **w, int nw)
{
	struct policy_limits	*l = limits_here(p);
	int			 conns = strcmp(w[0], "max-connections") == 0;
	int			 udp = strcmp(w[0], "max-udp-buffer") == 0;
	int			*line = conns ? &l->conns_line : udp ?
				    &l->udp_buffer_line : &l->forwards_line;
	long			 v, max = udp ? POLICY_UDP_BUFFER_MAX :
				    POLICY_LIMIT_MAX;

	if (nw != 2 || (v = parse_number(w[1], max)) == -1) {
		perr(p, "%s: expected a number from 1 to %ld%s%s%s", w[0],
		    max, nw < 2 ? "" : ", not \"",
		    nw < 2 ? "" : w[1], nw < 2 ? "" : "\"");
		return;
	}
	if (*line != 0) {
		perr(p, "%s given twice (first at line %d)", w[0], *line);
		return;
	}
	*line = p->line;
	if (conns)
		l->max_conns = (unsigned int)v;
	else if (udp)
		l->max_udp_buffer = (unsigned int)v;
	else
		l->max_forwards = (unsigned int)v;
}

/*
 * key FILE: once per guest block.  The file is read after the parse
 * (policy_file.c), so that parsing stays free of I/O.
 */
static void
parse_key(struct parser *p, char **w, int nw)
{
	struct policy_guest	*g;

	if (p->guest == -1) {
		perr(p, "key belongs in a guest block (porthole-host -K "
		    "gives one for every guest)");
		return;
	}
	g = &p->pf->guests[p->guest];
	if (nw != 2 || w[1][0] != '/' ||
	    strlen(w[1]) >= sizeof g->key_path) {
		perr(p, "key: expected the absolute path of a key file, "
		    "shorter than %zu bytes", sizeof g->key_path);
		return;
	}
	if (g->key_line != 0) {
		perr(p, "key given twice in this block (first at line %d)",
		    g->key_line);
		return;
	}
	g->key_line = p->line;
	strlcpy(g->key_path, w[1], sizeof g->key_path);
}

/* mode and lock: once per file, outside guest blocks. */
static int
parse_global(struct parser *p, char **w, int nw, int *line)
{
	if (p->guest != -1) {
		perr(p, "%s applies to every guest: not inside a guest block "
		    "(from line %d)", w[0], p->pf->guests[p->guest].line);
		return -1;
	}
	if (*line != 0) {
		perr(p, "%s given twice (first at line %d)", w[0], *line);
		return -1;
	}
	if (strcmp(w[0], "lock") == 0 && nw != 1) {
		perr(p, "lock: unexpected \"%s\"", w[1]);
		return -1;
	}
	if (strcmp(w[0], "mode") == 0 && (nw != 2 ||
	    policy_mode_parse(w[1], &p->pf->mode) == -1)) {
		perr(p, "mode: expected loopback, refuse or allow%s%s%s",
		    nw < 2 ? "" : ", not \"", nw < 2 ? "" : w[1],
		    nw < 2 ? "" : "\"");
		return -1;
	}
	*line = p->line;
	return 0;
}

/* reach DEST [as SIDE]: a host destination the guests may reach. */
static void
parse_reach(struct parser *p, char **w, int nw)
{
	struct policy_file	*pf = p->pf;
	struct reach_entry	 e;
	char			 err[256];
	int			 i;

	if (nw != 2 && (nw != 4 || strcmp(w[2], "as") != 0)) {
		perr(p, "reach: expected DEST [as GUEST-SIDE]");
		return;
	}
	if (reach_parse(w[1], nw == 4 ? w[3] : NULL, &e, err,
	    sizeof err) == -1) {
		perr(p, "reach: %s", err);
		return;
	}
	e.line = p->line;
	e.guest = p->guest;
	for (i = 0; i < pf->nreaches; i++)
		if (pf->reaches[i].guest == e.guest &&
		    memcmp(&pf->reaches[i].side, &e.side, sizeof e.side) == 0) {
			perr(p, "reach: the guest side is line %d's already",
			    pf->reaches[i].line);
			return;
		}
	if (pf->nreaches == POLICY_REACHES_MAX) {
		perr(p, "more than %d reach lines", POLICY_REACHES_MAX);
		return;
	}
	if (pf->nreaches == p->reaches_cap) {
		p->reaches_cap = p->reaches_cap == 0 ? 4 : p->reaches_cap * 2;
		pf->reaches = xreallocarray(pf->reaches, p->reaches_cap,
		    sizeof e);
	}
	pf->reaches[pf->nreaches++] = e;
}

static int
parse_guest_id(struct parser *p, struct policy_guest *g, const char *s)
{
	struct endpoint	ep;
	char		err[160];
	long		cid;

	if (strncmp(s, "cid:", 4) == 0) {
		if ((cid = parse_number(s + 4, 0xfffffffeL)) == -1) {
			perr(p, "guest %s: the CID is not a number from 1 to "
			    "4294967294", s);
			return -1;
		}
		g->kind = GUEST_CID;
		g->cid = (uint32_t)cid;
		strlcpy(g->pattern, s, sizeof g->pattern);
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "vsock:", 6) == 0) {
		if (endpoint_parse(s, EP_LISTEN, &ep, err, sizeof err) == -1) {
			perr(p, "guest %s: %s", s, err);
			return -1;
		}
		if (ep.type == EP_UNIX && ep.path[0] != '/') {
			perr(p, "guest %s: the socket path must be absolute",
			    s);
			return -1;
		}
		g->kind = GUEST_ENDPOINT;
		strlcpy(g->pattern, ep.str, sizeof g->pattern);
		return 0;
	}
	if (*s == '\0' || strlen(s) >= PH_NAME_MAX) {
		perr(p, "guest: a name is 1 to %d characters", PH_NAME_MAX - 1);
		return -1;
	}
	g->kind = GUEST_NAME;
	strlcpy(g->pattern, s, sizeof g->pattern);
	return 0;
}

/* guest NAME { */
static void
parse_guest(struct parser *p, char **w, int nw)
{
	struct policy_guest	g;

	if (p->guest != -1) {
		perr(p, "guest blocks do not nest: the block from line %d is "
		    "still open", p->pf->guests[p->guest].line);
		return;
	}
	if (nw != 3 || strcmp(w[2], "{") != 0) {
		perr(p, "guest: expected a name, cid:N or an endpoint, then "
		    "{");
		return;
	}
	memset(&g, 0, sizeof g);
	g.line = p->line;
	if (parse_guest_id(p, &g, w[1]) == -1)
		return;
	if (p->pf->nguests == POLICY_GUESTS_MAX) {
		perr(p, "more than %d guest blocks", POLICY_GUESTS_MAX);
		return;
	}
	if (p->pf->nguests == p->guests_cap) {
		p->guests_cap = p->guests_cap == 0 ? 4 : p->guests_cap * 2;
		p->pf->guests = xreallocarray(p->pf->guests, p->guests_cap,
		    sizeof g);
	}
	p->guest = p->pf->nguests;
	p->pf->guests[p->pf->nguests++] = g;
}

static void
parse_words(struct parser *p, char **w, int nw)
{
	enum policy_action	a;

	if (strcmp(w[0], "mode") == 0)
		parse_global(p, w, nw, &p->pf->mode_line);
	else if (strcmp(w[0], "lock") == 0)
		parse_global(p, w, nw, &p->pf->lock_line);
	else if (strcmp(w[0], "max-forwards") == 0 ||
	    strcmp(w[0], "max-connections") == 0 ||
	    strcmp(w[0], "max-udp-buffer") == 0)
		parse_limit(p, w, nw);
	else if (strcmp(w[0], "key") == 0)
		parse_key(p, w, nw);
	else if (parse_action(w[0], &a) == 0)
		parse_rule(p, w, nw);
	else if (strcmp(w[0], "guest") == 0)
		parse_guest(p, w, nw);
	else if (strcmp(w[0], "reach") == 0)
		parse_reach(p, w, nw);
	else if (strcmp(w[0], "}") == 0) {
		if (p->guest == -1)
			perr(p, "} without a guest block");
		else if (nw != 1)
			perr(p, "}: unexpected \"%s\"", w[1]);
		p->guest = -1;	/* closed even so: one error, not many */
	} else if (strcmp(w[0], "{") == 0)
		perr(p, "{ must end a line that starts with guest");
	else
		perr(p, "unknown directive \"%s\"", w[0]);
}

static char	brace_open[] = "{", brace_close[] = "}";

/* A quoted word, *sp just past its opening quote; NULL if it is bad. */
static char *
quoted_word(struct parser *p, char **sp)
{
	char	*s = *sp, *w = s;

	s += strcspn(s, "\"\t\r");
	if (*s != '"') {
		perr(p, *s == '\0' ? "unterminated quoted word" :
		    "a quoted word holds a tab or a carriage return");
		return NULL;
	}
	*s++ = '\0';
	if (*s != '\0' && strchr(" \t\r#{}", *s) == NULL) {
		perr(p, "a quoted word must end at a blank");
		return NULL;
	}
	*sp = s;
	return w;
}

/*
 * Splits a line into words, in place.  Returns the number of words, or
 * -1 after reporting what is wrong.  A brace is a word of its own, glued
 * to its neighbours or not.
 */
static int
split_words(struct parser *p, char *s, char **w)
{
	int	n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == POLICY_WORDS_MAX) {
			perr(p, "more than %d words on a line",
			    POLICY_WORDS_MAX);
			return -1;
		}
		if (*s == '{' || *s == '}') {
			w[n++] = *s == '{' ? brace_open : brace_close;
			*s++ = '\0';
			continue;
		}
		if (*s == '"') {
			s++;
			if ((w[n++] = quoted_word(p, &s)) == NULL)
				return -1;
			continue;
		}
		w[n++] = s;
		while (*s != '\0' && strchr(" \t\r#{}\"", *s) == NULL)
			s++;
		if (*s == '"') {
			perr(p, "a quote must start a word");
			return -1;
		}
		if (*s == '#') {
			*s = '\0';
			return n;
		}
		if (*s == '{' || *s == '}') {
			if (n == POLICY_WORDS_MAX) {
				perr(p, "more than %d words on a line",
				    POLICY_WORDS_MAX);
				return -1;
			}
			w[n++] = *s == '{' ? brace_open : brace_close;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
}

/*
 * One line, without its newline.  Bytes other than printable ASCII,
 * blanks and carriage returns are refused outside comments.
 */
static void
parse_line(struct parser *p, const char *line, size_t len)
{
	char	 buf[POLICY_LINE_MAX + 1], *w[POLICY_WORDS_MAX];
	size_t	 i;
	int	 nw, quoted = 0;

	if (len > POLICY_LINE_MAX) {
		perr(p, "line longer than %d bytes", POLICY_LINE_MAX);
		return;
	}
	for (i = 0; i < len; i++) {
		if (line[i] == '"')
			quoted = !quoted;
		if (line[i] == '#' && !quoted)
			break;
		if (line[i] != '\t' && line[i] != '\r' &&
		    !(line[i] >= 0x20 && line[i] < 0x7f)) {
			perr(p, "byte 0x%02x is not printable ASCII",
			    (unsigned char)line[i]);
			return;
		}
	}
	memcpy(buf, line, i);
	buf[i] = '\0';
	if ((nw = split_words(p, buf, w)) <= 0)
		return;
	parse_words(p, w, nw);
}

struct policy_file *
policy_parse(const char *name, const char *buf, size_t len, char *errs,
    size_t errslen)
{
	struct parser	 p = { .name = name, .guest = -1, .errs = errs,
			    .errslen = errslen };
	const char	*nl, *end = buf + len;

	errs[0] = '\0';
	p.pf = xcalloc(1, sizeof *p.pf);
	p.pf->mode = POLICY_LOOPBACK;
	p.pf->path = xstrdup(name);
	if (len > POLICY_FILE_MAX) {
		perr(&p, "larger than %d bytes", POLICY_FILE_MAX);
		goto fail;
	}
	while (buf < end && p.nerrors < POLICY_ERRORS_MAX) {
		p.line++;
		if ((nl = memchr(buf, '\n', end - buf)) == NULL)
			nl = end;
		parse_line(&p, buf, nl - buf);
		buf = nl + 1;
	}
	if (p.guest != -1 && p.nerrors < POLICY_ERRORS_MAX)
		perr(&p, "the guest block from line %d is not closed with }",
		    p.pf->guests[p.guest].line);
	if (p.nerrors == 0) {
		policy_index_build(p.pf);
		return p.pf;
	}
fail:
	policy_file_free(p.pf);
	return NULL;
}

void
policy_file_free(struct policy_file *pf)
{
	if (pf == NULL)
		return;
	policy_index_free(pf);
	free(pf->path);
	free(pf->rules);
	free(pf->reaches);
	if (pf->guests != NULL)
		explicit_bzero(pf->guests, (size_t)pf->nguests *
		    sizeof *pf->guests);
	free(pf->guests);
	free(pf);
}

/* One directive, and a comment saying where it came from, aligned. */
static void
print_line(FILE *fp, int indent, const char *text, const char *fmt, int n,
    const char *more)
{
	char	comment[256];

	snprintf(comment, sizeof comment, fmt, n, more);
	fprintf(fp, "%s%-*s # %s\n", indent ? "\t" : "", indent ? 32 : 40,
	    text, comment);
}

static void
print_limits(FILE *fp, const struct policy_limits *l, int indent)
{
	char	text[64];

	if (l->forwards_line != 0) {
		snprintf(text, sizeof text, "max-forwards %u", l->max_forwards);
		print_line(fp, indent, text, "line %d%s", l->forwards_line, "");
	}
	if (l->conns_line != 0) {
		snprintf(text, sizeof text, "max-connections %u", l->max_conns);
		print_line(fp, indent, text, "line %d%s", l->conns_line, "");
	}
	if (l->udp_buffer_line != 0) {
		snprintf(text, sizeof text, "max-udp-buffer %u",
		    l->max_udp_buffer);
		print_line(fp, indent, text, "line %d%s", l->udp_buffer_line,
		    "");
	}
}

/* The reach lines of guest block g (-1: outside blocks), quoted. */
static void
print_reaches(FILE *fp, const struct policy_file *pf, int g)
{
	const struct reach_entry	*e;
	char				 text[REACH_TEXT_MAX + 8], side[80];
	char				 id[16];
	int				 i;

	for (i = 0; i < pf->nreaches; i++) {
		e = &pf->reaches[i];
		if (e->guest != g)
			continue;
		reach_side_text(&e->side, side, sizeof side);
		snprintf(text, sizeof text, "reach \"%s\" as %s", e->dest_text,
		    side);
		snprintf(id, sizeof id, "%u", e->id);
		print_line(fp, g == -1 ? 0 : 1, text, "line %d, entry %s",
		    e->line, id);
	}
}

static void
print_guest(FILE *fp, const struct policy_file *pf, int g)
{
	const struct policy_guest	*pg = &pf->guests[g];
	char				 text[160];
	int				 i;

	snprintf(text, sizeof text, "guest \"%s\" {", pg->pattern);
	print_line(fp, 0, text, "line %d%s", pg->line, "");
	if (pg->key_line != 0) {
		snprintf(text, sizeof text, "key \"%.140s\"", pg->key_path);
		print_line(fp, 1, text, "line %d%s", pg->key_line, "");
	}
	print_limits(fp, &pg->limits, 1);
	for (i = 0; i < pf->nrules; i++)
		if (pf->rules[i].guest == g)
			print_line(fp, 1, pf->rules[i].text, "line %d%s",
			    pf->rules[i].line, "");
	print_reaches(fp, pf, g);
	fprintf(fp, "}\n");
}

/*
 * The policy as a policy file that parses back to the same policy:
 * canonical rules and guest blocks in the file's order, each with the
 * line it came from.
 */
void
policy_print(FILE *fp, const struct policy_file *pf)
{
	char	text[32];
	int	i, g = 0;

	snprintf(text, sizeof text, "mode %s", policy_mode_name(pf->mode));
	if (pf->mode_line != 0)
		print_line(fp, 0, text, "line %d%s", pf->mode_line, "");
	else
		print_line(fp, 0, text, "the default%.0d%s", 0, "");
	if (pf->lock_line != 0)
		print_line(fp, 0, "lock", "line %d, %s", pf->lock_line,
		    pf->locked ? "honoured" : pf->lock_why[0] != '\0' ?
		    pf->lock_why : "not checked");
	print_limits(fp, &pf->limits, 0);
	for (i = 0; i < pf->nrules; i++) {
		if (pf->rules[i].guest != -1)
			continue;	/* printed with its block */
		for (; g < pf->nguests && pf->guests[g].line <
		    pf->rules[i].line; g++)
			print_guest(fp, pf, g);
		print_line(fp, 0, pf->rules[i].text, "line %d%s",
		    pf->rules[i].line, "");
	}
	print_reaches(fp, pf, -1);
	for (; g < pf->nguests; g++)
		print_guest(fp, pf, g);
}
