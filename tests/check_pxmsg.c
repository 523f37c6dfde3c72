/*
 * Unit tests for guest-agent/pxmsg.c, the proxy socket's request and
 * answer lines, and shim/dproxy_args.c, docker-proxy's arguments as
 * porthole-docker-proxy reads them.  Golden lines byte for byte, every
 * field out of range, lines cut short, too long or with bytes that are
 * not printable; made lines read back to what made them.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dproxy.h"
#include "pxmsg.h"

static int
req(const char *line, struct pxmsg_req *r)
{
	char	err[160];

	err[0] = '\0';
	if (pxmsg_req_parse(line, strlen(line), r, err, sizeof err) == 0)
		return 0;
	ck_assert_msg(err[0] != '\0', "refused \"%s\" without a reason", line);
	return -1;
}

START_TEST(test_req_golden)
{
	struct pxmsg_req	r;
	char			a[PH_ADDRSTRLEN], out[PXMSG_REQ_MAX + 1];
	const char		*line = "porthole-proxy/1 tcp 0.0.0.0 8080 "
				    "docker-proxy\n";

	ck_assert_int_eq(req(line, &r), 0);
	ck_assert_uint_eq(r.proto, IPPROTO_TCP);
	ck_assert_str_eq(addr_ntop(&r.addr, a, sizeof a), "0.0.0.0");
	ck_assert_uint_eq(r.port, 8080);
	ck_assert_str_eq(r.name, "docker-proxy");
	ck_assert_int_eq(pxmsg_req_format(&r, out, sizeof out),
	    (int)strlen(line));
	ck_assert_str_eq(out, line);

	ck_assert_int_eq(req("porthole-proxy/1 udp ::1 65535 x\n", &r), 0);
	ck_assert_uint_eq(r.proto, IPPROTO_UDP);
	ck_assert_uint_eq(r.addr.family, AF_INET6);
	ck_assert_uint_eq(r.port, 65535);
}
END_TEST

static const char *const bad_reqs[] = {
	"",
	"\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy",	/* no newline */
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy\n\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy x\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy \n",
	"porthole-proxy/1  tcp 0.0.0.0 8080 docker-proxy\n",
	" porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy\n",
	"porthole-proxy/2 tcp 0.0.0.0 8080 docker-proxy\n",
	"porthole-proxy/1 sctp 0.0.0.0 8080 docker-proxy\n",
	"porthole-proxy/1 TCP 0.0.0.0 8080 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.256 8080 docker-proxy\n",
	"porthole-proxy/1 tcp localhost 8080 docker-proxy\n",
	"porthole-proxy/1 tcp fe80::1%eth0 8080 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 0 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 65536 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 08080 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 +8080 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 -1 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 999999 docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 80a docker-proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker-proxy-too-long\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 docker/proxy\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 d\toc\n",
	"porthole-proxy/1 tcp 0.0.0.0 8080 d\xc3\xa9\n",
	"porthole-proxy/1\ttcp 0.0.0.0 8080 docker-proxy\n",
};

START_TEST(test_req_bad)
{
	struct pxmsg_req	r;

	ck_assert_msg(req(bad_reqs[_i], &r) == -1, "accepted \"%s\"",
	    bad_reqs[_i]);
}
END_TEST

/* A NUL inside, and one byte over the limit. */
START_TEST(test_req_bounds)
{
	struct pxmsg_req	r;
	char			buf[PXMSG_REQ_MAX + 2], err[160];
	static const char	nul[] = "porthole-proxy/1 tcp 0.0.0.0 80\0 x\n";

	ck_assert_int_eq(pxmsg_req_parse(nul, sizeof nul - 1, &r, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not printable"));
	memset(buf, 'a', sizeof buf);
	buf[PXMSG_REQ_MAX] = '\n';
	ck_assert_int_eq(pxmsg_req_parse(buf, PXMSG_REQ_MAX + 1, &r, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
}
END_TEST

START_TEST(test_req_format_bad)
{
	struct pxmsg_req	r;
	char			out[PXMSG_REQ_MAX + 1];

	ck_assert_int_eq(req("porthole-proxy/1 tcp ::1 1 a\n", &r), 0);
	r.port = 0;
	ck_assert_int_eq(pxmsg_req_format(&r, out, sizeof out), -1);
	r.port = 1;
	strlcpy(r.name, "a b", sizeof r.name);
	ck_assert_int_eq(pxmsg_req_format(&r, out, sizeof out), -1);
	strlcpy(r.name, "a", sizeof r.name);
	r.proto = 132;
	ck_assert_int_eq(pxmsg_req_format(&r, out, sizeof out), -1);
	r.proto = IPPROTO_TCP;
	ck_assert_int_eq(pxmsg_req_format(&r, out, 10), -1);
}
END_TEST

static int
ans(const char *line, struct pxmsg_ans *a)
{
	char	err[160];

	err[0] = '\0';
	if (pxmsg_ans_parse(line, strlen(line), a, err, sizeof err) == 0)
		return 0;
	ck_assert_msg(err[0] != '\0', "refused \"%s\" without a reason", line);
	return -1;
}

START_TEST(test_ans_golden)
{
	struct pxmsg_ans	a = { .verdict = PX_REFUSED };
	char			out[PXMSG_ANS_MAX + 1];
	const char		*line = "refused - wildcard bind 0.0.0.0 "
				    "refused by policy refuse\n";

	strlcpy(a.reason, "wildcard bind 0.0.0.0 refused by policy refuse",
	    sizeof a.reason);
	ck_assert_int_eq(pxmsg_ans_format(&a, out, sizeof out),
	    (int)strlen(line));
	ck_assert_str_eq(out, line);
	memset(&a, 0xff, sizeof a);
	ck_assert_int_eq(ans(line, &a), 0);
	ck_assert_int_eq(a.verdict, PX_REFUSED);
	ck_assert_str_eq(a.hosts, "");
	ck_assert_str_eq(a.reason, "wildcard bind 0.0.0.0 refused by policy "
	    "refuse");
	ck_assert(pxmsg_verdict_fails(a.verdict));

	ck_assert_int_eq(ans("rewritten 127.0.0.1:8080,[::1]:8080 wildcard "
	    "bind rewritten\n", &a), 0);
	ck_assert_int_eq(a.verdict, PX_REWRITTEN);
	ck_assert_str_eq(a.hosts, "127.0.0.1:8080,[::1]:8080");
	ck_assert(!pxmsg_verdict_fails(a.verdict));
}
END_TEST

/* Every verdict by its name, both ways; only four fail the proxy. */
START_TEST(test_ans_verdicts)
{
	struct pxmsg_ans	a = { .verdict = _i }, b;
	char			out[PXMSG_ANS_MAX + 1];
	int			fails;

	strlcpy(a.reason, "why", sizeof a.reason);
	ck_assert_int_gt(pxmsg_ans_format(&a, out, sizeof out), 0);
	ck_assert_int_eq(ans(out, &b), 0);
	ck_assert_int_eq(b.verdict, _i);
	fails = _i == PX_REFUSED || _i == PX_FAILED || _i == PX_DENIED ||
	    _i == PX_INVALID;
	ck_assert_int_eq(pxmsg_verdict_fails(_i), fails);
}
END_TEST

static const char *const bad_answers[] = {
	"",
	"refused\n",
	"refused -\n",
	"refused - \n",
	"refused  reason\n",
	"Refused - reason\n",
	"allowed - reason\n",
	"bound 127.0.0.1:80;rm - reason\n",
	"bound 127.0.0.1:80 reason",
	"bound - a\x01 b\n",
	"bound - r\xe9sum\xe9\n",
	"bound - two\nlines\n",
};

START_TEST(test_ans_bad)
{
	struct pxmsg_ans	a;

	ck_assert_msg(ans(bad_answers[_i], &a) == -1, "accepted \"%s\"",
	    bad_answers[_i]);
}
END_TEST

/* The host's reason may hold anything: made printable, bounded. */
START_TEST(test_ans_format_cleans)
{
	struct pxmsg_ans	a = { .verdict = PX_FAILED }, b;
	char			out[PXMSG_ANS_MAX + 1];

	strlcpy(a.reason, "in\nuse\x1b[31m", sizeof a.reason);
	ck_assert_int_gt(pxmsg_ans_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "failed - in?use?[31m\n");
	memset(a.reason, 'x', sizeof a.reason - 1);
	a.reason[sizeof a.reason - 1] = '\0';
	ck_assert_int_gt(pxmsg_ans_format(&a, out, sizeof out), 0);
	ck_assert_int_eq(ans(out, &b), 0);
	ck_assert_str_eq(b.reason, a.reason);
	a.reason[0] = '\0';
	ck_assert_int_eq(pxmsg_ans_format(&a, out, sizeof out), -1);
	a.reason[0] = 'x';
	a.verdict = 0;
	ck_assert_int_eq(pxmsg_ans_format(&a, out, sizeof out), -1);
	a.verdict = PX_BOUND;
	strlcpy(a.hosts, "a b", sizeof a.hosts);
	ck_assert_int_eq(pxmsg_ans_format(&a, out, sizeof out), -1);
}
END_TEST

/* argv as dockerd passes it, and the question it makes. */
static int
args(struct dproxy_args *a, struct pxmsg_req *r, ...)
{
	char	*argv[16], err[160];
	int	 argc = 0;
	va_list	 ap;

	argv[argc++] = "porthole-docker-proxy";
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	if (dproxy_args_parse(argc, argv, a, err, sizeof err) == -1)
		return -1;
	return dproxy_args_request(a, r, err, sizeof err) == -1 ? -2 : 0;
}

START_TEST(test_args_dockerd)
{
	struct dproxy_args	a;
	struct pxmsg_req	r;
	char			s[PH_ADDRSTRLEN];

	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "-host-ip", "0.0.0.0",
	    "-host-port", "8080", "-container-ip", "172.17.0.2",
	    "-container-port", "80", NULL), 0);
	ck_assert_str_eq(a.container_ip, "172.17.0.2");
	ck_assert_str_eq(a.container_port, "80");
	ck_assert_uint_eq(r.proto, IPPROTO_TCP);
	ck_assert_str_eq(addr_fmt(&r.addr, r.port, s, sizeof s),
	    "0.0.0.0:8080");
	ck_assert_str_eq(r.name, "docker-proxy");
	/* Go's other spellings, and a newer dockerd's flag (skipped) */
	ck_assert_int_eq(args(&a, &r, "--proto=udp", "-use-listen-fd",
	    "--host-ip", "::", "-host-port=53", "-container-ip=172.17.0.2",
	    "-container-port", "53", NULL), 0);
	ck_assert_uint_eq(r.proto, IPPROTO_UDP);
	ck_assert_str_eq(addr_fmt(&r.addr, r.port, s, sizeof s), "[::]:53");
	ck_assert_int_eq(args(&a, &r, "-future", "x", "-proto", "tcp",
	    "-host-ip", "::1", "-host-port", "1", NULL), 0);
}
END_TEST

/* Nothing to ask: docker-proxy itself judges these. */
START_TEST(test_args_bad)
{
	struct dproxy_args	a;
	struct pxmsg_req	r;

	ck_assert_int_eq(args(&a, &r, "-proto", NULL), -1);
	ck_assert_int_eq(args(&a, &r, "tcp", NULL), -1);
	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "--", NULL), -1);
	ck_assert_int_eq(args(&a, &r, NULL), -2);
	ck_assert_int_eq(args(&a, &r, "-proto", "sctp", "-host-ip", "0.0.0.0",
	    "-host-port", "8080", NULL), -2);
	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "-host-ip", "0.0.0.0 1",
	    "-host-port", "8080", NULL), -2);
	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "-host-ip", "0.0.0.0",
	    "-host-port", "8080 x\n", NULL), -2);
	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "-host-ip", "0.0.0.0",
	    "-host-port", "", NULL), -2);
	ck_assert_int_eq(args(&a, &r, "-proto", "tcp", "-host-ip", "0.0.0.0",
	    NULL), -2);
}
END_TEST

static Suite *
pxmsg_suite(void)
{
	Suite	*s = suite_create("pxmsg");
	TCase	*tc;

	tc = tcase_create("request");
	tcase_add_test(tc, test_req_golden);
	tcase_add_loop_test(tc, test_req_bad, 0,
	    sizeof bad_reqs / sizeof bad_reqs[0]);
	tcase_add_test(tc, test_req_bounds);
	tcase_add_test(tc, test_req_format_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("answer");
	tcase_add_test(tc, test_ans_golden);
	tcase_add_loop_test(tc, test_ans_verdicts, PX_BOUND, PX_INVALID + 1);
	tcase_add_loop_test(tc, test_ans_bad, 0,
	    sizeof bad_answers / sizeof bad_answers[0]);
	tcase_add_test(tc, test_ans_format_cleans);
	suite_add_tcase(s, tc);

	tc = tcase_create("args");
	tcase_add_test(tc, test_args_dockerd);
	tcase_add_test(tc, test_args_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(pxmsg_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
