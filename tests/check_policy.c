/*
 * Unit tests for host-agent/policy.c.  In the manner of OpenSSH's
 * regress/forward-control.sh, every kind of guest bind is crossed with
 * every policy mode, with and without --loopback-only, and each outcome
 * is spelled out in the table below: the table in the comment above
 * policy_decide(), one line per case.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* The host agent's objects refer to the global host.c defines. */
struct host	*host;

#define REFUSE		POLICY_REFUSE
#define LOOPBACK	POLICY_LOOPBACK
#define ALLOW		POLICY_ALLOW

#define BOUND		PH_BOUND
#define REWRITTEN	PH_REWRITTEN
#define REFUSED		PH_REFUSED

#define V6ONLY		1
#define DUAL		0

static const struct decide_case {
	const char	*guest;		/* what the guest bound */
	int		 v6only;
	enum policy_mode mode;
	int		 loopback_only;
	uint8_t		 verdict;
	const char	*hosts;		/* listeners, in order */
} decide_cases[] = {
	/* guest            v6only  mode      lo verdict    host listeners */
	{ "0.0.0.0",         DUAL,   ALLOW,    0, BOUND,     "0.0.0.0" },
	{ "0.0.0.0",         DUAL,   ALLOW,    1, REWRITTEN, "127.0.0.1" },
	{ "0.0.0.0",         DUAL,   LOOPBACK, 0, REWRITTEN, "127.0.0.1" },
	{ "0.0.0.0",         DUAL,   LOOPBACK, 1, REWRITTEN, "127.0.0.1" },
	{ "0.0.0.0",         DUAL,   REFUSE,   0, REFUSED,   "" },
	{ "0.0.0.0",         DUAL,   REFUSE,   1, REFUSED,   "" },

	{ "::",              V6ONLY, ALLOW,    0, BOUND,     "::" },
	{ "::",              V6ONLY, ALLOW,    1, REWRITTEN, "::1" },
	{ "::",              V6ONLY, LOOPBACK, 0, REWRITTEN, "::1" },
	{ "::",              V6ONLY, LOOPBACK, 1, REWRITTEN, "::1" },
	{ "::",              V6ONLY, REFUSE,   0, REFUSED,   "" },
	{ "::",              V6ONLY, REFUSE,   1, REFUSED,   "" },

	{ "::",              DUAL,   ALLOW,    0, BOUND,     ":: 0.0.0.0" },
	{ "::",              DUAL,   ALLOW,    1, REWRITTEN, "::1 127.0.0.1" },
	{ "::",              DUAL,   LOOPBACK, 0, REWRITTEN, "::1 127.0.0.1" },
	{ "::",              DUAL,   LOOPBACK, 1, REWRITTEN, "::1 127.0.0.1" },
	{ "::",              DUAL,   REFUSE,   0, REFUSED,   "" },
	{ "::",              DUAL,   REFUSE,   1, REFUSED,   "" },

	/* v4-mapped wildcard: IPv4's wildcard, seen through IPv6 */
	{ "::ffff:0.0.0.0",  DUAL,   ALLOW,    0, BOUND,     "0.0.0.0" },
	{ "::ffff:0.0.0.0",  DUAL,   ALLOW,    1, REWRITTEN, "127.0.0.1" },
	{ "::ffff:0.0.0.0",  DUAL,   LOOPBACK, 0, REWRITTEN, "127.0.0.1" },
	{ "::ffff:0.0.0.0",  V6ONLY, REFUSE,   0, REFUSED,   "" },
	{ "::ffff:0.0.0.0",  DUAL,   REFUSE,   1, REFUSED,   "" },
	{ "::ffff:10.0.0.5", DUAL,   REFUSE,   0, REWRITTEN, "::1" },

	{ "127.0.0.1",       DUAL,   ALLOW,    0, BOUND,     "127.0.0.1" },
	{ "127.0.0.1",       DUAL,   ALLOW,    1, BOUND,     "127.0.0.1" },
	{ "127.0.0.1",       DUAL,   LOOPBACK, 0, BOUND,     "127.0.0.1" },
	{ "127.0.0.1",       DUAL,   LOOPBACK, 1, BOUND,     "127.0.0.1" },
	{ "127.0.0.1",       DUAL,   REFUSE,   0, BOUND,     "127.0.0.1" },
	{ "127.0.0.1",       DUAL,   REFUSE,   1, BOUND,     "127.0.0.1" },

	{ "::1",             V6ONLY, ALLOW,    0, BOUND,     "::1" },
	{ "::1",             V6ONLY, ALLOW,    1, BOUND,     "::1" },
	{ "::1",             DUAL,   LOOPBACK, 0, BOUND,     "::1" },
	{ "::1",             DUAL,   LOOPBACK, 1, BOUND,     "::1" },
	{ "::1",             V6ONLY, REFUSE,   0, BOUND,     "::1" },
	{ "::1",             DUAL,   REFUSE,   1, BOUND,     "::1" },

	{ "10.0.0.5",        DUAL,   ALLOW,    0, REWRITTEN, "127.0.0.1" },
	{ "10.0.0.5",        DUAL,   ALLOW,    1, REWRITTEN, "127.0.0.1" },
	{ "10.0.0.5",        DUAL,   LOOPBACK, 0, REWRITTEN, "127.0.0.1" },
	{ "10.0.0.5",        DUAL,   LOOPBACK, 1, REWRITTEN, "127.0.0.1" },
	{ "10.0.0.5",        DUAL,   REFUSE,   0, REWRITTEN, "127.0.0.1" },
	{ "10.0.0.5",        DUAL,   REFUSE,   1, REWRITTEN, "127.0.0.1" },

	{ "fd00::5",         V6ONLY, ALLOW,    0, REWRITTEN, "::1" },
	{ "fd00::5",         DUAL,   ALLOW,    1, REWRITTEN, "::1" },
	{ "fd00::5",         V6ONLY, LOOPBACK, 0, REWRITTEN, "::1" },
	{ "fd00::5",         DUAL,   LOOPBACK, 1, REWRITTEN, "::1" },
	{ "fd00::5",         DUAL,   REFUSE,   0, REWRITTEN, "::1" },
	{ "fd00::5",         V6ONLY, REFUSE,   1, REWRITTEN, "::1" },

	{ "224.0.0.1",       DUAL,   ALLOW,    0, REFUSED,   "" },
	{ "224.0.0.1",       DUAL,   ALLOW,    1, REFUSED,   "" },
	{ "224.0.0.1",       DUAL,   LOOPBACK, 0, REFUSED,   "" },
	{ "224.0.0.1",       DUAL,   LOOPBACK, 1, REFUSED,   "" },
	{ "224.0.0.1",       DUAL,   REFUSE,   0, REFUSED,   "" },
	{ "224.0.0.1",       DUAL,   REFUSE,   1, REFUSED,   "" },

	{ "ff02::1",         V6ONLY, ALLOW,    0, REFUSED,   "" },
	{ "ff02::1",         DUAL,   ALLOW,    1, REFUSED,   "" },
	{ "ff02::1",         DUAL,   LOOPBACK, 0, REFUSED,   "" },
	{ "ff02::1",         V6ONLY, LOOPBACK, 1, REFUSED,   "" },
	{ "ff02::1",         DUAL,   REFUSE,   0, REFUSED,   "" },
	{ "ff02::1",         DUAL,   REFUSE,   1, REFUSED,   "" },

	{ "255.255.255.255", DUAL,   ALLOW,    0, REFUSED,   "" },
	{ "255.255.255.255", DUAL,   ALLOW,    1, REFUSED,   "" },
	{ "255.255.255.255", DUAL,   LOOPBACK, 0, REFUSED,   "" },
	{ "255.255.255.255", DUAL,   LOOPBACK, 1, REFUSED,   "" },
	{ "255.255.255.255", DUAL,   REFUSE,   0, REFUSED,   "" },
	{ "255.255.255.255", DUAL,   REFUSE,   1, REFUSED,   "" },
};
#define NDECIDE_CASES	(sizeof decide_cases / sizeof decide_cases[0])

static const char *
case_name(const struct decide_case *c, uint8_t proto, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s %s%s, policy %s%s", proto_name(proto),
	    c->guest, c->v6only ? " v6only" : "",
	    policy_mode_name(c->mode),
	    c->loopback_only ? " --loopback-only" : "");
	return buf;
}

/*
 * The decision's host listeners as "addr addr", checking on the way that
 * each listens on the guest's port.
 */
static const char *
listeners(const struct bind_decision *d, uint16_t port, const char *what,
    char *buf, size_t len)
{
	char	a[PH_ADDRSTRLEN];
	int	i;

	ck_assert_msg(d->naddr >= 0 && d->naddr <= PH_HOSTADDR_MAX,
	    "%s: %d host addresses", what, d->naddr);
	buf[0] = '\0';
	for (i = 0; i < d->naddr; i++) {
		ck_assert_msg(d->host[i].port == port, "%s: host[%d] port %u, "
		    "want %u", what, i, d->host[i].port, port);
		if (i > 0)
			strlcat(buf, " ", len);
		strlcat(buf, addr_ntop(&d->host[i].addr, a, sizeof a), len);
	}
	return buf;
}

/* Each case, for tcp and udp, with a port that differs per case. */
START_TEST(test_decide)
{
	static const uint8_t		 protos[] = { IPPROTO_TCP,
					    IPPROTO_UDP };
	const struct decide_case	*c = &decide_cases[_i];
	struct policy			 p = { .mode = c->mode,
					    .loopback_only = c->loopback_only };
	struct bind_req			 req;
	struct bind_decision		 d;
	char				 what[128], got[128];
	size_t				 k;

	for (k = 0; k < sizeof protos; k++) {
		case_name(c, protos[k], what, sizeof what);
		memset(&req, 0, sizeof req);
		req.proto = protos[k];
		ck_assert_int_eq(addr_parse(c->guest, &req.addr), 0);
		req.port = 1000 + _i * 7;
		req.v6only = c->v6only;
		memset(&d, 0xa5, sizeof d);
		policy_decide(&p, &req, &d);

		ck_assert_msg(d.verdict == c->verdict, "%s: verdict %s, "
		    "want %s", what, ph_verdict_name(d.verdict),
		    ph_verdict_name(c->verdict));
		listeners(&d, req.port, what, got, sizeof got);
		ck_assert_msg(strcmp(got, c->hosts) == 0, "%s: listeners "
		    "\"%s\", want \"%s\"", what, got, c->hosts);
		ck_assert_msg(memchr(d.reason, '\0', sizeof d.reason) != NULL,
		    "%s: reason not terminated", what);
		ck_assert_msg(d.reason[0] != '\0', "%s: no reason", what);
	}
}
END_TEST

/* A wildcard bind that --loopback-only narrowed says so in its reason. */
START_TEST(test_reason_names_loopback_only)
{
	static const char	*wild[] = { "0.0.0.0", "::" };
	struct policy		 p = { .mode = POLICY_ALLOW,
				    .loopback_only = 1 };
	struct bind_req		 req;
	struct bind_decision	 d;
	size_t			 i;

	for (i = 0; i < sizeof wild / sizeof wild[0]; i++) {
		memset(&req, 0, sizeof req);
		req.proto = IPPROTO_TCP;
		ck_assert_int_eq(addr_parse(wild[i], &req.addr), 0);
		req.port = 80;
		policy_decide(&p, &req, &d);
		ck_assert_msg(strstr(d.reason, "loopback-only") != NULL,
		    "%s: reason \"%s\"", wild[i], d.reason);
	}
}
END_TEST

/* A refusal by the mode names the mode; a rewrite names loopback. */
START_TEST(test_reason_names_policy)
{
	struct policy		 p = { .mode = POLICY_REFUSE };
	struct bind_req		 req;
	struct bind_decision	 d;

	memset(&req, 0, sizeof req);
	req.proto = IPPROTO_UDP;
	ck_assert_int_eq(addr_parse("0.0.0.0", &req.addr), 0);
	req.port = 53;
	policy_decide(&p, &req, &d);
	ck_assert_msg(strstr(d.reason, "refuse") != NULL, "\"%s\"",
	    d.reason);
	/* Refusing is the mode's doing, not --loopback-only's. */
	p.loopback_only = 1;
	policy_decide(&p, &req, &d);
	ck_assert_msg(strstr(d.reason, "loopback-only") == NULL, "\"%s\"",
	    d.reason);
	p.loopback_only = 0;
	p.mode = POLICY_LOOPBACK;
	policy_decide(&p, &req, &d);
	ck_assert_msg(strstr(d.reason, "loopback") != NULL, "\"%s\"",
	    d.reason);
	ck_assert_msg(strstr(d.reason, "loopback-only") == NULL, "\"%s\"",
	    d.reason);
}
END_TEST

START_TEST(test_mode_parse)
{
	static const struct {
		const char		*s;
		enum policy_mode	 mode;
	} ok[] = {
		{ "refuse", POLICY_REFUSE },
		{ "loopback", POLICY_LOOPBACK },
		{ "allow", POLICY_ALLOW },
	};
	static const char	*bad[] = { "", "Allow", "ALLOW", "allo",
	    "allowx", " allow", "allow ", "loop", "deny", "1" };
	enum policy_mode	 mode;
	size_t			 i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		mode = 99;
		ck_assert_int_eq(policy_mode_parse(ok[i].s, &mode), 0);
		ck_assert_int_eq(mode, ok[i].mode);
		ck_assert_str_eq(policy_mode_name(mode), ok[i].s);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mode = 99;
		ck_assert_msg(policy_mode_parse(bad[i], &mode) == -1,
		    "\"%s\" accepted", bad[i]);
		ck_assert_int_eq(mode, 99);
	}
}
END_TEST

START_TEST(test_effective)
{
	static const struct {
		enum policy_mode	mode;
		int			loopback_only;
		enum policy_mode	effective;
	} cases[] = {
		{ POLICY_REFUSE, 0, POLICY_REFUSE },
		{ POLICY_REFUSE, 1, POLICY_REFUSE },
		{ POLICY_LOOPBACK, 0, POLICY_LOOPBACK },
		{ POLICY_LOOPBACK, 1, POLICY_LOOPBACK },
		{ POLICY_ALLOW, 0, POLICY_ALLOW },
		{ POLICY_ALLOW, 1, POLICY_LOOPBACK },
	};
	struct policy	p = { 0 };
	size_t		i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p.mode = cases[i].mode;
		p.loopback_only = cases[i].loopback_only;
		ck_assert_msg(policy_effective(&p) == cases[i].effective,
		    "%s%s: effective %s", policy_mode_name(p.mode),
		    p.loopback_only ? " --loopback-only" : "",
		    policy_mode_name(policy_effective(&p)));
	}
}
END_TEST

/*
 * Every change of mode, with and without --loopback-only: tightening
 * (or keeping the effective mode) always works, loosening is refused
 * under --loopback-only and leaves the policy as it was.
 */
START_TEST(test_set_mode)
{
	static const struct {
		enum policy_mode	from;
		int			lo;
		enum policy_mode	to;
		int			ok;
		enum policy_mode	effective;	/* afterwards */
	} cases[] = {
		{ ALLOW,    0, REFUSE,   1, REFUSE },
		{ ALLOW,    0, LOOPBACK, 1, LOOPBACK },
		{ LOOPBACK, 0, ALLOW,    1, ALLOW },
		{ REFUSE,   0, ALLOW,    1, ALLOW },
		{ REFUSE,   0, LOOPBACK, 1, LOOPBACK },
		{ LOOPBACK, 0, LOOPBACK, 1, LOOPBACK },
		{ LOOPBACK, 1, REFUSE,   1, REFUSE },
		{ LOOPBACK, 1, LOOPBACK, 1, LOOPBACK },
		{ LOOPBACK, 1, ALLOW,    0, LOOPBACK },
		{ REFUSE,   1, LOOPBACK, 0, REFUSE },
		{ REFUSE,   1, ALLOW,    0, REFUSE },
		{ ALLOW,    1, LOOPBACK, 1, LOOPBACK },	/* allow is capped */
		{ ALLOW,    1, ALLOW,    0, LOOPBACK },
		{ ALLOW,    1, REFUSE,   1, REFUSE },
	};
	struct policy	p = { 0 };
	char		why[PH_REASON_MAX];
	size_t		i;
	int		r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p.mode = cases[i].from;
		p.loopback_only = cases[i].lo;
		why[0] = '\0';
		r = policy_set_mode(&p, cases[i].to, why, sizeof why);
		ck_assert_msg((r == 0) == cases[i].ok, "%s%s to %s: %s",
		    policy_mode_name(cases[i].from), cases[i].lo ? " -L" : "",
		    policy_mode_name(cases[i].to), r == 0 ? "allowed" : why);
		ck_assert_int_eq(policy_effective(&p), cases[i].effective);
		if (r == -1)
			ck_assert_ptr_nonnull(strstr(why, "--loopback-only"));
	}
}
END_TEST

/*
 * Rules: the same function, driven by a policy file.  Each case is a
 * bind (protocol, guest address, port, guest), the mode and
 * --loopback-only, and what must come of it: the verdict, the host
 * listeners with their ports, whether "to auto" applies, and the line
 * of the rule that matched (0: none).
 */
static const char rules_text[] =
    "mode loopback\n"						/* 1 */
    "refuse tcp port 22\n"
    "refuse any port 1-1023 from wildcard\n"
    "allow tcp port 3000-3999\n"
    "loopback udp port 5353\n"					/* 5 */
    "remap tcp port 8080 to 18080\n"
    "remap tcp port 9000-9099 to auto\n"
    "allow tcp port 5000-5009 from 10.0.0.0/8 to 15000-15009\n"
    "loopback any port 6000 from wildcard\n"
    "guest \"dev-*\" {\n"					/* 10 */
    "\tallow tcp port 7000\n"
    "}\n"
    "guest cid:3 {\n"
    "\trefuse any port 7000\n"
    "}\n"							/* 15 */
    "guest unix:/run/vm.sock {\n"
    "\tallow udp port 7000\n"
    "}\n"
    "allow any port 7001 from loopback to 17001\n"
    "allow tcp port 7002 from ::/0\n";				/* 20 */

#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP
#define FAILED	PH_FAILED

static const struct rule_case {
	uint8_t		 proto;
	const char	*guest;		/* the address the guest bound */
	int		 v6only;
	uint16_t	 port;
	const char	*name;		/* the guest: name, endpoint, CID */
	const char	*ep;
	uint32_t	 cid;
	enum policy_mode mode;
	int		 lo;		/* --loopback-only */
	uint8_t		 verdict;
	const char	*hosts;
	int		 port_auto;
	int		 line;
} rule_cases[] = {
	/* refuse tcp port 22: every address, every mode; udp is not tcp */
	{ TCP, "0.0.0.0", DUAL, 22, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 2 },
	{ TCP, "127.0.0.1", DUAL, 22, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 2 },
	{ TCP, "::1", V6ONLY, 22, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REFUSED, "", 0, 2 },
	{ TCP, "10.0.0.5", DUAL, 22, "vm", "unix:/x", 0, REFUSE, 1,
	  REFUSED, "", 0, 2 },
	{ UDP, "127.0.0.1", DUAL, 22, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "127.0.0.1:22", 0, 0 },
	/* refuse any port 1-1023 from wildcard: loopback binds pass */
	{ UDP, "0.0.0.0", DUAL, 22, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 3 },
	{ TCP, "::", DUAL, 80, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 3 },
	{ TCP, "::", V6ONLY, 1023, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 3 },
	{ TCP, "127.0.0.1", DUAL, 80, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "127.0.0.1:80", 0, 0 },
	{ TCP, "0.0.0.0", DUAL, 1024, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "0.0.0.0:1024", 0, 0 },
	/* allow tcp port 3000-3999: allowed even under mode refuse */
	{ TCP, "0.0.0.0", DUAL, 3000, "vm", "unix:/x", 0, REFUSE, 0,
	  BOUND, "0.0.0.0:3000", 0, 4 },
	{ TCP, "::", DUAL, 3999, "vm", "unix:/x", 0, LOOPBACK, 0,
	  BOUND, ":::3999 0.0.0.0:3999", 0, 4 },
	{ TCP, "::", V6ONLY, 3500, "vm", "unix:/x", 0, LOOPBACK, 0,
	  BOUND, ":::3500", 0, 4 },
	{ TCP, "::", DUAL, 3500, "vm", "unix:/x", 0, REFUSE, 1,
	  REWRITTEN, "::1:3500 127.0.0.1:3500", 0, 4 },
	{ TCP, "0.0.0.0", DUAL, 3500, "vm", "unix:/x", 0, ALLOW, 1,
	  REWRITTEN, "127.0.0.1:3500", 0, 4 },
	{ TCP, "127.0.0.1", DUAL, 3500, "vm", "unix:/x", 0, REFUSE, 0,
	  BOUND, "127.0.0.1:3500", 0, 4 },
	{ TCP, "10.0.0.5", DUAL, 3500, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "127.0.0.1:3500", 0, 4 },
	{ UDP, "0.0.0.0", DUAL, 3500, "vm", "unix:/x", 0, REFUSE, 0,
	  REFUSED, "", 0, 0 },
	/* loopback udp port 5353: loopback even under mode allow */
	{ UDP, "0.0.0.0", DUAL, 5353, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "127.0.0.1:5353", 0, 5 },
	{ UDP, "::", DUAL, 5353, "vm", "unix:/x", 0, REFUSE, 0,
	  REWRITTEN, "::1:5353 127.0.0.1:5353", 0, 5 },
	{ TCP, "0.0.0.0", DUAL, 5353, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "0.0.0.0:5353", 0, 0 },
	/* remap: the mode decides the address, the rule the port */
	{ TCP, "0.0.0.0", DUAL, 8080, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "0.0.0.0:18080", 0, 6 },
	{ TCP, "0.0.0.0", DUAL, 8080, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:18080", 0, 6 },
	{ TCP, "::", DUAL, 8080, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "::1:18080 127.0.0.1:18080", 0, 6 },
	{ TCP, "0.0.0.0", DUAL, 8080, "vm", "unix:/x", 0, REFUSE, 0,
	  REFUSED, "", 0, 6 },
	{ TCP, "127.0.0.1", DUAL, 8080, "vm", "unix:/x", 0, REFUSE, 0,
	  REWRITTEN, "127.0.0.1:18080", 0, 6 },
	{ TCP, "0.0.0.0", DUAL, 9050, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "0.0.0.0:9050", 1, 7 },
	{ TCP, "::1", V6ONLY, 9099, "vm", "unix:/x", 0, LOOPBACK, 0,
	  BOUND, "::1:9099", 1, 7 },
	{ TCP, "0.0.0.0", DUAL, 9100, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:9100", 0, 0 },
	/* from a CIDR, with a range moved to a range */
	{ TCP, "10.1.2.3", DUAL, 5003, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:15003", 0, 8 },
	{ TCP, "11.1.2.3", DUAL, 5003, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:5003", 0, 0 },
	{ TCP, "0.0.0.0", DUAL, 5003, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:5003", 0, 0 },
	/* from wildcard */
	{ UDP, "::", V6ONLY, 6000, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "::1:6000", 0, 9 },
	{ UDP, "::1", V6ONLY, 6000, "vm", "unix:/x", 0, ALLOW, 0,
	  BOUND, "::1:6000", 0, 0 },
	{ UDP, "::ffff:0.0.0.0", DUAL, 6000, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "127.0.0.1:6000", 0, 9 },
	{ TCP, "::ffff:0.0.0.0", DUAL, 80, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 3 },
	{ TCP, "::ffff:127.0.0.1", DUAL, 80, "vm", "unix:/x", 0, ALLOW, 0,
	  REWRITTEN, "::1:80", 0, 0 },
	/* per guest: by name (a glob), by CID, by endpoint */
	{ TCP, "0.0.0.0", DUAL, 7000, "dev-1", "unix:/x", 0, REFUSE, 0,
	  BOUND, "0.0.0.0:7000", 0, 11 },
	{ TCP, "0.0.0.0", DUAL, 7000, "prod", "unix:/x", 0, REFUSE, 0,
	  REFUSED, "", 0, 0 },
	{ TCP, "127.0.0.1", DUAL, 7000, "prod", "vsock:6440", 3, ALLOW, 0,
	  REFUSED, "", 0, 14 },
	{ TCP, "127.0.0.1", DUAL, 7000, "prod", "vsock:6440", 4, ALLOW, 0,
	  BOUND, "127.0.0.1:7000", 0, 0 },
	{ TCP, "127.0.0.1", DUAL, 7000, "dev-2", "vsock:6440", 3, ALLOW, 0,
	  BOUND, "127.0.0.1:7000", 0, 11 },	/* first match wins */
	{ UDP, "0.0.0.0", DUAL, 7000, "x", "unix:/run/vm.sock", 0, REFUSE, 0,
	  BOUND, "0.0.0.0:7000", 0, 17 },
	{ UDP, "0.0.0.0", DUAL, 7000, "x", "unix:/run/vm2.sock", 0, REFUSE, 0,
	  REFUSED, "", 0, 0 },
	{ UDP, "0.0.0.0", DUAL, 7000, NULL, NULL, 0, REFUSE, 0,
	  REFUSED, "", 0, 0 },
	/* from loopback: 127.0.0.0/8 and ::1 */
	{ TCP, "127.0.0.1", DUAL, 7001, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:17001", 0, 19 },
	{ UDP, "127.3.2.1", DUAL, 7001, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:17001", 0, 19 },
	{ TCP, "::1", V6ONLY, 7001, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "::1:17001", 0, 19 },
	{ TCP, "0.0.0.0", DUAL, 7001, "vm", "unix:/x", 0, LOOPBACK, 0,
	  REWRITTEN, "127.0.0.1:7001", 0, 0 },
	/* from ::/0: every IPv6 address, no IPv4 one */
	{ TCP, "::", DUAL, 7002, "vm", "unix:/x", 0, REFUSE, 0,
	  BOUND, ":::7002 0.0.0.0:7002", 0, 20 },
	{ TCP, "0.0.0.0", DUAL, 7002, "vm", "unix:/x", 0, REFUSE, 0,
	  REFUSED, "", 0, 0 },
	/* multicast: refused before any rule */
	{ TCP, "224.0.0.1", DUAL, 3000, "vm", "unix:/x", 0, ALLOW, 0,
	  REFUSED, "", 0, 0 },
};
#define NRULE_CASES	(sizeof rule_cases / sizeof rule_cases[0])

static struct policy_file *
rules_file(void)
{
	static char		 errs[4096];
	struct policy_file	*pf;

	pf = policy_parse("rules", rules_text, strlen(rules_text), errs,
	    sizeof errs);
	ck_assert_msg(pf != NULL, "%s", errs);
	return pf;
}

START_TEST(test_rules)
{
	const struct rule_case	*c = &rule_cases[_i];
	struct policy		 p = { .mode = c->mode,
				    .loopback_only = c->lo };
	struct bind_req		 req;
	struct bind_decision	 d;
	char			 got[128], one[PH_ADDRSTRLEN + 8];
	char			 a[PH_ADDRSTRLEN];
	int			 i;

	p.file = rules_file();
	memset(&req, 0, sizeof req);
	req.proto = c->proto;
	ck_assert_int_eq(addr_parse(c->guest, &req.addr), 0);
	req.port = c->port;
	req.v6only = c->v6only;
	req.guest_name = c->name;
	req.guest_ep = c->ep;
	req.guest_cid = c->cid;
	memset(&d, 0xa5, sizeof d);
	policy_decide(&p, &req, &d);
	got[0] = '\0';
	for (i = 0; i < d.naddr; i++) {
		snprintf(one, sizeof one, "%s%s:%u", i ? " " : "",
		    addr_ntop(&d.host[i].addr, a, sizeof a), d.host[i].port);
		strlcat(got, one, sizeof got);
	}
	ck_assert_msg(d.verdict == c->verdict && strcmp(got, c->hosts) == 0 &&
	    d.port_auto == c->port_auto && d.rule_line == c->line,
	    "case %d: %s %s:%u guest %s: got %s \"%s\" auto %d line %d, want "
	    "%s \"%s\" auto %d line %d (%s)", _i, proto_name(c->proto),
	    c->guest, c->port, c->name ? c->name : "-",
	    ph_verdict_name(d.verdict), got, d.port_auto, d.rule_line,
	    ph_verdict_name(c->verdict), c->hosts, c->port_auto, c->line,
	    d.reason);
	policy_file_free(p.file);
}
END_TEST

/*
 * Guest Unix sockets (protocol 5): "unix" rules by name pattern, first
 * match, per guest; allowed when none matches; never decided by a port
 * rule ("any" too), the mode or --loopback-only.
 */
static const char unix_text[] =
	"allow any port 1-65535\n"		/* 1: not a socket's */
	"refuse unix secret*\n"			/* 2 */
	"guest vm {\n"				/* 3 */
	"	refuse unix docker\n"		/* 4 */
	"}\n"					/* 5 */
	"allow unix docker*\n";			/* 6 */

START_TEST(test_unix_rules)
{
	static const struct {
		const char	*guest, *name;
		uint8_t		 verdict;
		int		 line;
		const char	*reason;
	} cases[] = {
		{ "vm", "secret-db", PH_REFUSED, 2,
		  "refused by line 2: refuse unix secret*" },
		{ "vm", "docker", PH_REFUSED, 4,
		  "refused by line 4 (guest vm): refuse unix docker" },
		{ "other", "docker", PH_BOUND, 6,
		  "guest socket allowed by line 6: allow unix docker*" },
		{ "vm", "app", PH_BOUND, 0,
		  "guest socket allowed (no unix rule refuses it)" },
	};
	char			 errs[POLICY_ERRS_LEN];
	struct policy		 p = { .mode = POLICY_REFUSE,
				    .loopback_only = 1 };
	struct bind_req		 req;
	struct bind_decision	 d;
	size_t			 i;

	p.file = policy_parse("unix", unix_text, strlen(unix_text), errs,
	    sizeof errs);
	ck_assert_msg(p.file != NULL, "%s", errs);
	ck_assert_str_eq(p.file->rules[1].text, "refuse unix secret*");
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&req, 0, sizeof req);
		req.proto = PH_KIND_UNIX;
		req.guest_name = cases[i].guest;
		strlcpy(req.sock_name, cases[i].name, sizeof req.sock_name);
		policy_decide(&p, &req, &d);
		ck_assert_msg(d.verdict == cases[i].verdict &&
		    d.rule_line == cases[i].line && d.naddr == 0,
		    "case %zu: %s line %d", i, ph_verdict_name(d.verdict),
		    d.rule_line);
		ck_assert_str_eq(d.reason, cases[i].reason);
		ck_assert_int_eq(d.code, d.verdict == PH_REFUSED ?
		    REFUSAL_RULE : REFUSAL_NONE);
	}
	/* A port is not matched by a unix rule, even one named "*". */
	memset(&req, 0, sizeof req);
	req.proto = IPPROTO_TCP;
	ck_assert_int_eq(addr_parse("127.0.0.1", &req.addr), 0);
	req.port = 80;
	req.guest_name = "vm";
	policy_decide(&p, &req, &d);
	ck_assert_int_eq(d.rule_line, 1);
	policy_file_free(p.file);
}
END_TEST

/* The reason names the rule, its line and its text, or the mode. */
START_TEST(test_rule_reasons)
{
	static const struct {
		uint8_t		 proto;
		const char	*guest;
		uint16_t	 port;
		const char	*name;
		enum policy_mode mode;
		int		 lo;
		const char	*reason;
	} cases[] = {
		{ TCP, "0.0.0.0", 22, "vm", ALLOW, 0,
		  "refused by line 2: refuse tcp port 22" },
		{ TCP, "0.0.0.0", 3000, "vm", REFUSE, 0,
		  "wildcard bind allowed by line 4: allow tcp port 3000-3999" },
		{ TCP, "0.0.0.0", 3000, "vm", REFUSE, 1,
		  "wildcard bind 0.0.0.0 rewritten to loopback "
		  "(--loopback-only) by line 4: allow tcp port 3000-3999" },
		{ UDP, "::", 5353, "vm", ALLOW, 0,
		  "wildcard bind :: rewritten to loopback by line 5: loopback "
		  "udp port 5353" },
		{ TCP, "0.0.0.0", 8080, "vm", LOOPBACK, 0,
		  "wildcard bind 0.0.0.0 rewritten to loopback by policy "
		  "loopback, port 8080 remapped to 18080 by line 6: remap tcp "
		  "port 8080 to 18080" },
		{ TCP, "0.0.0.0", 8080, "vm", REFUSE, 0,
		  "wildcard bind 0.0.0.0 refused by policy refuse (line 6: "
		  "remap tcp port 8080 to 18080)" },
		{ TCP, "127.0.0.1", 9001, "vm", REFUSE, 0,
		  "loopback bind, port 9001 (another if taken) by line 7: "
		  "remap tcp port 9000-9099 to auto" },
		{ TCP, "10.0.0.9", 5000, "vm", LOOPBACK, 0,
		  "guest address 10.0.0.9 is not a host address: forwarded on "
		  "host loopback, port 5000 remapped to 15000 by line 8: allow "
		  "tcp port 5000-5009 from 10.0.0.0/8 to 15000-15009" },
		{ TCP, "0.0.0.0", 7000, "dev-x", REFUSE, 0,
		  "wildcard bind allowed by line 11 (guest dev-*): allow tcp "
		  "port 7000" },
		{ TCP, "0.0.0.0", 4000, "vm", LOOPBACK, 0,
		  "wildcard bind 0.0.0.0 rewritten to loopback by policy "
		  "loopback" },
	};
	struct policy		 p = { 0 };
	struct bind_req		 req;
	struct bind_decision	 d;
	size_t			 i;

	p.file = rules_file();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&req, 0, sizeof req);
		req.proto = cases[i].proto;
		ck_assert_int_eq(addr_parse(cases[i].guest, &req.addr), 0);
		req.port = cases[i].port;
		req.guest_name = cases[i].name;
		p.mode = cases[i].mode;
		p.loopback_only = cases[i].lo;
		policy_decide(&p, &req, &d);
		ck_assert_str_eq(d.reason, cases[i].reason);
	}
	policy_file_free(p.file);
}
END_TEST

/* A locked file's mode is a ceiling for the API and -b. */
START_TEST(test_set_mode_locked)
{
	struct policy	p = { .mode = POLICY_LOOPBACK };
	char		why[PH_REASON_MAX];

	p.file = rules_file();
	p.file->locked = 1;		/* as policy_load() would find */
	ck_assert_int_eq(policy_set_mode(&p, POLICY_REFUSE, why, sizeof why),
	    0);
	ck_assert_int_eq(policy_set_mode(&p, POLICY_LOOPBACK, why,
	    sizeof why), 0);
	ck_assert_int_eq(policy_set_mode(&p, POLICY_ALLOW, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "rules is locked: policy loopback may only be "
	    "tightened, not loosened to allow");
	ck_assert_int_eq(p.mode, POLICY_LOOPBACK);
	p.file->locked = 0;		/* lock not honoured: loosening works */
	ck_assert_int_eq(policy_set_mode(&p, POLICY_ALLOW, why, sizeof why),
	    0);
	policy_file_free(p.file);
}
END_TEST

/* policy_install(): the file's mode, -b, reloads and the lock. */
START_TEST(test_install)
{
	static const struct {
		enum policy_mode	 before;	/* p->mode */
		int			 had_file;	/* with mode allow */
		int			 flag;		/* -b given */
		const char		*text;
		int			 locked;
		enum policy_mode	 after;
		int			 noted;
	} cases[] = {
		/* start-up, no -b: the file's mode */
		{ LOOPBACK, 0, 0, "mode refuse\n", 0, REFUSE, 0 },
		{ LOOPBACK, 0, 0, "", 0, LOOPBACK, 0 },
		/* start-up, -b: it wins, but only tightens a locked file */
		{ ALLOW, 0, 1, "mode refuse\n", 0, ALLOW, 0 },
		{ ALLOW, 0, 1, "mode refuse\nlock\n", 1, REFUSE, 1 },
		{ REFUSE, 0, 1, "mode allow\nlock\n", 1, REFUSE, 0 },
		/* reload: a changed mode wins; else what the API set stays */
		{ REFUSE, 1, 0, "mode loopback\n", 0, LOOPBACK, 0 },
		{ REFUSE, 1, 0, "mode allow\n", 0, REFUSE, 0 },
		{ ALLOW, 1, 0, "mode allow\n", 0, ALLOW, 0 },
		{ ALLOW, 1, 0, "mode loopback\nlock\n", 1, LOOPBACK, 0 },
	};
	struct policy		 p;
	struct policy_file	*pf;
	char			 errs[512], note[512];
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&p, 0, sizeof p);
		p.mode = cases[i].before;
		if (cases[i].had_file)
			p.file = policy_parse("old", "mode allow\n", 11, errs,
			    sizeof errs);
		pf = policy_parse("new", cases[i].text, strlen(cases[i].text),
		    errs, sizeof errs);
		ck_assert_ptr_nonnull(pf);
		pf->locked = cases[i].locked;
		policy_install(&p, pf, cases[i].flag, note, sizeof note);
		ck_assert_msg(p.mode == cases[i].after, "case %zu: mode %s",
		    i, policy_mode_name(p.mode));
		ck_assert_ptr_eq(p.file, pf);
		ck_assert_int_eq(note[0] != '\0', cases[i].noted);
		policy_file_free(p.file);
	}
}
END_TEST

/* A guest's limits in the file: its first block that sets one, else the
 * file's, else none (0). */
START_TEST(test_guest_limits)
{
	static const char	text[] =
	    "max-forwards 10\n"
	    "guest a {\n"
	    "max-connections 3\n"
	    "}\n"
	    "guest cid:5 {\n"
	    "max-forwards 2\n"
	    "max-connections 4\n"
	    "max-udp-buffer 100000\n"
	    "}\n";
	struct policy_file	*pf;
	struct policy_limits	 l;
	char			 errs[512];

	policy_guest_limits(NULL, "a", "unix:/x", 0, &l);
	ck_assert_uint_eq(l.max_forwards, 0);	/* no file */
	ck_assert_int_eq(l.forwards_line, 0);
	ck_assert_uint_eq(l.max_conns, 0);
	pf = policy_parse("f", text, strlen(text), errs, sizeof errs);
	ck_assert_ptr_nonnull(pf);
	policy_guest_limits(pf, "a", "unix:/x", 0, &l);
	ck_assert_uint_eq(l.max_forwards, 10);
	ck_assert_int_eq(l.forwards_line, 1);
	ck_assert_uint_eq(l.max_conns, 3);
	ck_assert_int_eq(l.conns_line, 3);
	policy_guest_limits(pf, "a", "vsock:6440", 5, &l);	/* 2 blocks */
	ck_assert_uint_eq(l.max_forwards, 2);
	ck_assert_int_eq(l.forwards_line, 6);
	ck_assert_uint_eq(l.max_conns, 3);	/* the first block that sets */
	ck_assert_uint_eq(l.max_udp_buffer, 100000);
	ck_assert_int_eq(l.udp_buffer_line, 8);
	policy_guest_limits(pf, "b", "vsock:6440", 6, &l);
	ck_assert_uint_eq(l.max_forwards, 10);
	ck_assert_uint_eq(l.max_conns, 0);
	ck_assert_int_eq(l.conns_line, 0);
	ck_assert_int_eq(l.udp_buffer_line, 0);
	policy_file_free(pf);
}
END_TEST

/*
 * Without CAP_NET_BIND_SERVICE a host port below
 * net.ipv4.ip_unprivileged_port_start is refused by policy_decide(),
 * after the policy and the rules chose the host port; "to auto" takes
 * another.  With the capability, or a sysctl of 0, the policy decides.
 */
START_TEST(test_privileged)
{
	static const char	 text[] =
	    "remap tcp port 8080 to 80\n"			/* 1 */
	    "remap tcp port 443 to 8443\n"
	    "remap tcp port 500-599 to auto\n"
	    "allow udp port 53\n";
	static const struct {
		uint8_t		 proto;
		const char	*guest;
		uint16_t	 port;
		int		 start, cap;
		enum policy_mode mode;
		uint8_t		 verdict;
		uint16_t	 hport;
		const char	*code;
	} cases[] = {
		{ TCP, "0.0.0.0", 80, 1024, 0, LOOPBACK, REFUSED, 0,
		  "privileged_port" },
		{ TCP, "127.0.0.1", 1023, 1024, 0, LOOPBACK, REFUSED, 0,
		  "privileged_port" },
		{ UDP, "::", 53, 1024, 0, ALLOW, REFUSED, 0,
		  "privileged_port" },
		{ TCP, "10.0.0.5", 80, 1024, 0, REFUSE, REFUSED, 0,
		  "privileged_port" },
		{ TCP, "0.0.0.0", 1024, 1024, 0, LOOPBACK, REWRITTEN, 1024,
		  NULL },
		{ TCP, "0.0.0.0", 80, 80, 0, LOOPBACK, REWRITTEN, 80, NULL },
		{ TCP, "0.0.0.0", 80, 1024, 1, LOOPBACK, REWRITTEN, 80, NULL },
		{ TCP, "127.0.0.1", 22, 0, 0, LOOPBACK, BOUND, 22, NULL },
		/* the policy refuses first, and says so */
		{ TCP, "0.0.0.0", 80, 1024, 0, REFUSE, REFUSED, 0, "policy" },
		/* the host port is what counts, not the guest's */
		{ TCP, "0.0.0.0", 8080, 1024, 0, LOOPBACK, REFUSED, 0,
		  "privileged_port" },
		{ TCP, "0.0.0.0", 443, 1024, 0, LOOPBACK, REWRITTEN, 8443,
		  NULL },
		/* to auto: the kernel chooses (port 0) */
		{ TCP, "0.0.0.0", 510, 1024, 0, LOOPBACK, REWRITTEN, 0, NULL },
		{ TCP, "0.0.0.0", 510, 1024, 1, LOOPBACK, REWRITTEN, 510,
		  NULL },
	};
	struct policy		 p = { 0 };
	struct bind_req		 req;
	struct bind_decision	 d;
	char			 errs[512];
	size_t			 i;

	p.file = policy_parse("priv", text, strlen(text), errs, sizeof errs);
	ck_assert_msg(p.file != NULL, "%s", errs);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&req, 0, sizeof req);
		req.proto = cases[i].proto;
		ck_assert_int_eq(addr_parse(cases[i].guest, &req.addr), 0);
		req.port = cases[i].port;
		p.mode = cases[i].mode;
		p.unpriv_port_start = cases[i].start;
		p.bind_cap = cases[i].cap;
		memset(&d, 0xa5, sizeof d);
		policy_decide(&p, &req, &d);
		ck_assert_msg(d.verdict == cases[i].verdict &&
		    (d.verdict == REFUSED ? d.naddr == 0 :
		    d.naddr > 0 && d.host[0].port == cases[i].hport) &&
		    (cases[i].code == NULL ||
		    strcmp(reason_refusal(d.code), cases[i].code) == 0),
		    "case %zu: port %u: got %s port %u code %s (%s)", i,
		    cases[i].port, ph_verdict_name(d.verdict),
		    d.naddr > 0 ? d.host[0].port : 0,
		    d.verdict == REFUSED ? reason_refusal(d.code) : "-",
		    d.reason);
	}

	p.mode = LOOPBACK;
	p.unpriv_port_start = 1024;
	p.bind_cap = 0;
	memset(&req, 0, sizeof req);
	req.proto = IPPROTO_TCP;
	ck_assert_int_eq(addr_parse("0.0.0.0", &req.addr), 0);
	req.port = 80;
	policy_decide(&p, &req, &d);
	ck_assert_str_eq(d.reason, "host port 80 is privileged (below "
	    "net.ipv4.ip_unprivileged_port_start 1024) and porthole-host "
	    "lacks CAP_NET_BIND_SERVICE");
	req.port = 8080;
	policy_decide(&p, &req, &d);
	ck_assert_str_eq(d.reason, "host port 80 is privileged (below "
	    "net.ipv4.ip_unprivileged_port_start 1024) and porthole-host "
	    "lacks CAP_NET_BIND_SERVICE (port 8080 remapped to 80 by line 1: "
	    "remap tcp port 8080 to 80)");
	req.port = 510;
	policy_decide(&p, &req, &d);
	ck_assert_str_eq(d.reason, "wildcard bind 0.0.0.0 rewritten to "
	    "loopback by policy loopback, port 510 is privileged: another port by "
	    "line 3: remap tcp port 500-599 to auto");
	ck_assert_int_eq(d.port_auto, 1);
	policy_file_free(p.file);
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite	*s = suite_create("policy");
	TCase	*tc;

	tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_decide, 0, NDECIDE_CASES);
	tcase_add_test(tc, test_reason_names_loopback_only);
	tcase_add_test(tc, test_reason_names_policy);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_loop_test(tc, test_rules, 0, NRULE_CASES);
	tcase_add_test(tc, test_rule_reasons);
	tcase_add_test(tc, test_unix_rules);
	tcase_add_test(tc, test_set_mode_locked);
	tcase_add_test(tc, test_install);
	tcase_add_test(tc, test_guest_limits);
	tcase_add_test(tc, test_privileged);
	suite_add_tcase(s, tc);

	tc = tcase_create("mode");
	tcase_add_test(tc, test_mode_parse);
	tcase_add_test(tc, test_effective);
	tcase_add_test(tc, test_set_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(policy_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
