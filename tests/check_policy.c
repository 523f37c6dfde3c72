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
