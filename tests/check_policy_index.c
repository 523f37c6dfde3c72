/*
 * Unit tests for host-agent/policy_index.c: on random rule sets (narrow
 * and wide port ranges, lists, overlaps, addresses, guest blocks), every
 * decision taken through the index equals the decision of a scan of
 * every rule, which is what policy.c does for a file without an index.
 * Seeded, so that a failure names a case that can be run again.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct host	*host;

#define NSETS		200	/* rule sets */
#define NRULES_MAX	60	/* rules in one */
#define NBINDS		400	/* binds decided under each */
#define PORT_TOP	220	/* ports drawn from 1 to this */

static const char *const froms[] = {
	"", " from 0.0.0.0", " from 127.0.0.1", " from 10.0.0.0/8", " from ::",
	" from ::1", " from 192.168.1.7"
};
static const char *const addrs[] = {
	"0.0.0.0", "127.0.0.1", "10.1.2.3", "::", "::1", "192.168.1.7",
	"fe80::1"
};
static const char *const names[] = { "web", "db", "ci-7" };

static unsigned int
pick(unsigned int n)
{
	return (unsigned int)random() % n;
}

/* A port item: one port, a narrow range, or a wide one (> SPAN). */
static int
port_item(char *buf, size_t len)
{
	unsigned int	lo = 1 + pick(PORT_TOP), hi;

	switch (pick(4)) {
	case 0:
	case 1:
		return snprintf(buf, len, "%u", lo);
	case 2:
		hi = lo + pick(POLICY_INDEX_SPAN / 4);
		break;
	default:
		hi = lo + POLICY_INDEX_SPAN + pick(200);
		break;
	}
	return snprintf(buf, len, "%u-%u", lo, hi);
}

static void
add_rule(char *text, size_t len, int in_block)
{
	static const char *const actions[] = { "allow", "loopback", "refuse",
	    "remap" };
	static const char *const protos[] = { "tcp", "udp", "any" };
	const char	*action = actions[pick(4)];
	char		 ports[128];
	int		 n = 0, k, items = 1 + (int)pick(3);

	if (strcmp(action, "remap") == 0)
		items = 1;	/* "to PORT" maps one range */
	for (k = 0; k < items; k++) {
		if (k > 0)
			ports[n++] = ',';
		n += port_item(ports + n, sizeof ports - (size_t)n);
	}
	n = (int)strlen(text);
	snprintf(text + n, len - (size_t)n, "%s%s %s port %s%s%s\n",
	    in_block ? "\t" : "", action, protos[pick(3)], ports,
	    froms[pick(sizeof froms / sizeof froms[0])],
	    strcmp(action, "remap") != 0 ? "" : pick(2) ? " to auto" :
	    " to 40000");
}

/* A random policy file: rules, some of them in guest blocks. */
static struct policy_file *
random_file(char *text, size_t len)
{
	struct policy_file	*pf;
	char			 errs[POLICY_ERRS_LEN];
	int			 i, n = 1 + (int)pick(NRULES_MAX), block = 0;

	text[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!block && pick(8) == 0) {
			snprintf(text + strlen(text), len - strlen(text),
			    "guest %s {\n", names[pick(3)]);
			block = 1;
		}
		add_rule(text, len, block);
		if (block && pick(3) == 0) {
			strlcat(text, "}\n", len);
			block = 0;
		}
	}
	if (block)
		strlcat(text, "}\n", len);
	pf = policy_parse("random", text, strlen(text), errs, sizeof errs);
	ck_assert_msg(pf != NULL, "%s\n%s", errs, text);
	ck_assert_ptr_nonnull(pf->index);
	return pf;
}

static void
random_bind(struct bind_req *r)
{
	memset(r, 0, sizeof *r);
	r->proto = pick(2) ? IPPROTO_TCP : IPPROTO_UDP;
	ck_assert_int_eq(addr_parse(addrs[pick(sizeof addrs / sizeof addrs[0])],
	    &r->addr), 0);
	r->port = (uint16_t)(1 + pick(PORT_TOP + 300));
	r->v6only = (int)pick(2);
	r->guest_name = names[pick(3)];
	r->guest_ep = "unix:/run/vm.sock";
}

START_TEST(test_index_equals_scan)
{
	struct policy		 p = { .bind_cap = 1 };
	struct policy_index	*ix;
	struct bind_decision	 a, b;
	struct bind_req		 req;
	char			 text[NRULES_MAX * 160];
	int			 set, i;

	srandom(16);
	for (set = 0; set < NSETS; set++) {
		p.mode = (enum policy_mode)pick(3);
		p.loopback_only = pick(4) == 0;
		p.file = random_file(text, sizeof text);
		for (i = 0; i < NBINDS; i++) {
			random_bind(&req);
			policy_decide(&p, &req, &a);
			ix = p.file->index;	/* and now every rule, in order */
			p.file->index = NULL;
			policy_decide(&p, &req, &b);
			p.file->index = ix;
			ck_assert_msg(a.rule_line == b.rule_line &&
			    a.verdict == b.verdict && a.naddr == b.naddr &&
			    strcmp(a.reason, b.reason) == 0,
			    "set %d, port %u: indexed line %d (%s), scan line "
			    "%d (%s)\n%s", set, req.port, a.rule_line, a.reason,
			    b.rule_line, b.reason, text);
		}
		policy_file_free(p.file);
	}
}
END_TEST

/* A rule over more than POLICY_INDEX_SPAN ports still decides first. */
START_TEST(test_wide_rule_first)
{
	static const char	 text[] = "refuse tcp port 1-65535\n"
				    "allow tcp port 8080\n";
	struct policy		 p = { .mode = POLICY_LOOPBACK, .bind_cap = 1 };
	struct bind_req		 req = { .proto = IPPROTO_TCP, .port = 8080 };
	struct bind_decision	 d;
	char			 errs[POLICY_ERRS_LEN];

	p.file = policy_parse("w", text, strlen(text), errs, sizeof errs);
	ck_assert_msg(p.file != NULL, "%s", errs);
	addr_loopback(AF_INET, &req.addr);
	policy_decide(&p, &req, &d);
	ck_assert_int_eq(d.rule_line, 1);
	ck_assert_int_eq(d.verdict, PH_REFUSED);
	policy_file_free(p.file);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("policy_index");
	TCase	*tc = tcase_create("index");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_index_equals_scan);
	tcase_add_test(tc, test_wide_rule_first);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
