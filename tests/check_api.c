/*
 * Unit tests for the API's parts that need no socket: the request body
 * parser (every kind of bad body and the error it gets), the socket
 * directory checks, the event bus feeding the metrics, the metrics text
 * and the JSON timestamps.  The API over a real socket is tested end to
 * end (tests/e2e/t_api*.sh).
 */
#include <sys/stat.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "api.h"
#include "host.h"
#include "relay.h"
#include "xmalloc.h"

struct host	*host;

static const struct body_case {
	const char	*body;
	size_t		 len;		/* 0: strlen(body) */
	int		 ok;
	enum policy_mode mode;		/* if ok */
	const char	*error;		/* if not: a part of the message */
} body_cases[] = {
	{ "{\"mode\":\"refuse\"}", 0, 1, POLICY_REFUSE, NULL },
	{ "{\"mode\":\"loopback\"}", 0, 1, POLICY_LOOPBACK, NULL },
	{ " {\n \"mode\" : \"allow\" }\n", 0, 1, POLICY_ALLOW, NULL },
	{ "", 0, 0, 0, "no body" },
	{ "mode=refuse", 0, 0, 0, "body is not JSON" },
	{ "{\"mode\":\"refuse\"", 0, 0, 0, "body is not JSON" },
	{ "{\"mode\":\"refuse\"} {}", 0, 0, 0, "body is not JSON" },
	{ "[\"refuse\"]", 0, 0, 0, "not a JSON object" },
	{ "\"refuse\"", 0, 0, 0, "body is not JSON" },
	{ "{}", 0, 0, 0, "no \"mode\"" },
	{ "{\"mode\":null}", 0, 0, 0, "not a string" },
	{ "{\"mode\":2}", 0, 0, 0, "not a string" },
	{ "{\"mode\":\"REFUSE\"}", 0, 0, 0, "unknown mode \"REFUSE\"" },
	{ "{\"mode\":\"\"}", 0, 0, 0, "unknown mode" },
	{ "{\"mode\":\"refuse\",\"lock\":true}", 0, 0, 0,
	    "unknown field \"lock\"" },
	{ "{\"mode\":\"refuse\",\"mode\":\"allow\"}", 0, 0, 0,
	    "duplicate" },
	{ "{\"mode\":\"ref\\u0000use\"}", 0, 0, 0, "body is not JSON" },
	{ "{\"mode\":\"refuse\"}\0junk", 22, 0, 0, "body is not JSON" },
	{ "{\"mode\":\"\xff\"}", 0, 0, 0, "body is not JSON" },
	{ "{\"\x01\x02\":1}", 0, 0, 0, "body is not JSON" },
	{ "{\"m\\u00e9\":1}", 0, 0, 0, "unknown field \"m??\"" },
	/* found by the fuzzer: jansson quotes the raw bytes it trips on */
	{ "{\xde\x92\x90\x9a" "e\":\"loopback\"}", 0, 0, 0,
	    "body is not JSON" },
	{ "[1,2.5e3\x0c[t1r", 0, 0, 0, "body is not JSON" },
};

START_TEST(test_body_policy)
{
	const struct body_case	*c = &body_cases[_i];
	enum policy_mode	 mode = POLICY_LOOPBACK;
	char			 err[PH_REASON_MAX] = "";
	size_t			 len = c->len != 0 ? c->len : strlen(c->body);
	int			 r;

	r = api_body_policy(c->body, len, &mode, err, sizeof err);
	ck_assert_msg((r == 0) == c->ok, "case %d: %s", _i, err);
	if (c->ok)
		ck_assert_int_eq(mode, c->mode);
	else
		ck_assert_msg(strstr(err, c->error) != NULL,
		    "case %d: \"%s\" does not say \"%s\"", _i, err, c->error);
}
END_TEST

/* Every error is printable ASCII, so that it makes a valid JSON string. */
START_TEST(test_body_errors_printable)
{
	enum policy_mode	 mode;
	char			 err[PH_REASON_MAX];
	const char		*p;
	size_t			 i;

	for (i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
		if (body_cases[i].ok)
			continue;
		api_body_policy(body_cases[i].body, body_cases[i].len != 0 ?
		    body_cases[i].len : strlen(body_cases[i].body), &mode,
		    err, sizeof err);
		for (p = err; *p != '\0'; p++)
			ck_assert_msg(*p >= 0x20 && *p <= 0x7e, "case %zu: "
			    "byte %#x in \"%s\"", i, (unsigned char)*p, err);
	}
}
END_TEST

/*
 * The stable names of refusals and session ends: /metrics labels, which
 * dashboards and alerts depend on; each code has its own.
 */
START_TEST(test_end_labels)
{
	static const char *ends[END_NKINDS] = {
		"error", "guest_closed", "replaced", "protocol_error",
		"slow_guest", "keepalive", "shutdown"
	};
	static const char *refusals[REFUSAL_NKINDS] = {
		"other", "not_unicast", "rule", "policy", "privileged_port",
		"port_in_use", "limit", "address_in_use", "listen_error",
		"bad_name", "name_in_use"
	};
	int	i;

	for (i = 0; i < END_NKINDS; i++)
		ck_assert_str_eq(reason_end(i), ends[i]);
	for (i = 0; i < REFUSAL_NKINDS; i++)
		ck_assert_str_eq(reason_refusal(i), refusals[i]);
	ck_assert_str_eq(reason_end(END_NKINDS), "error");
	ck_assert_str_eq(reason_refusal(REFUSAL_NKINDS), "other");
}
END_TEST

START_TEST(test_json_time)
{
	struct timespec	 ts = { 1700000000, 123456789 };
	json_t		*j = api_json_time(&ts);

	ck_assert_str_eq(json_string_value(j), "2023-11-14T22:13:20.123Z");
	json_decref(j);
	ts.tv_nsec = 999999999;
	j = api_json_time(&ts);
	ck_assert_str_eq(json_string_value(j), "2023-11-14T22:13:20.999Z");
	json_decref(j);
}
END_TEST

START_TEST(test_json_text)
{
	json_t	*j = api_json_text("bad \xff byte\n");

	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(j), "bad ? byte?");
	json_decref(j);
}
END_TEST

static char	tmpdir[64];

static void
dir_setup(void)
{
	strlcpy(tmpdir, "/tmp/check_api.XXXXXX", sizeof tmpdir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
dir_teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
prepare(const char *sub, int create, char *err, size_t len)
{
	char	path[128];

	snprintf(path, sizeof path, "%s/%s/api.sock", tmpdir, sub);
	return api_path_prepare(path, create, err, len);
}

START_TEST(test_path_prepare)
{
	char	err[256], p[128], q[128];

	ck_assert_int_eq(prepare("new", 0, err, sizeof err), -1);
	ck_assert_int_eq(prepare("new", 1, err, sizeof err), 0);
	snprintf(p, sizeof p, "%s/new", tmpdir);
	ck_assert_int_eq(chmod(p, 0750), 0);
	ck_assert_int_eq(prepare("new", 1, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "can be entered by others (mode "
	    "0750)"));
	ck_assert_int_eq(chmod(p, 0700), 0);
	snprintf(q, sizeof q, "%s/link", tmpdir);
	ck_assert_int_eq(symlink(p, q), 0);
	ck_assert_int_eq(prepare("link", 1, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a directory"));
	snprintf(q, sizeof q, "%s/file", tmpdir);
	ck_assert_int_eq(close(creat(q, 0600)), 0);
	ck_assert_int_eq(prepare("file", 1, err, sizeof err), -1);
	if (geteuid() != 0)
		return;		/* giving the directory away needs root */
	ck_assert_int_eq(chown(p, 1, 1), 0);
	ck_assert_int_eq(prepare("new", 1, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "belongs to uid 1"));
}
END_TEST

static void
state_setup(void)
{
	host = xcalloc(1, sizeof *host);
	TAILQ_INIT(&host->endpoints);
	TAILQ_INIT(&host->sessions);
	host->policy.mode = POLICY_LOOPBACK;
}

static void
state_teardown(void)
{
	free(host);
}

/* Connection events reach the metrics; counters outlive the forward. */
START_TEST(test_metrics_from_events)
{
	static int		 inited;
	struct forward		 f = { .refs = 1 };
	struct evbuffer		*b = evbuffer_new();
	uint64_t		 active, total, active0, total0;
	char			*text;

	if (!inited++)
		metrics_init();
	metrics_conns(&active0, &total0);
	events_conn(HEV_CONN_OPENED, &f);
	events_conn(HEV_CONN_OPENED, &f);
	metrics_conns(&active, &total);
	ck_assert_uint_eq(active, active0 + 2);
	ck_assert_uint_eq(total, total0 + 2);
	events_conn_bytes(&f, 100, 2000);
	events_conn(HEV_CONN_CLOSED, &f);
	events_conn(HEV_CONN_CLOSED, &f);
	metrics_conns(&active, &total);
	ck_assert_uint_eq(active, active0);
	ck_assert_uint_eq(total, total0 + 2);
	f.dec.verdict = PH_REFUSED;
	f.dec.code = REFUSAL_POLICY;
	events_forward(HEV_FORWARD, &f, NULL);
	events_guest(HEV_GUEST_GONE, NULL, END_PROTOCOL,
	    "protocol error: bad frame");
	metrics_render(b);
	evbuffer_add(b, "", 1);
	text = (char *)evbuffer_pullup(b, -1);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE porthole_connections_total "
	    "counter\nporthole_connections_total 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "porthole_bytes_total{direction="
	    "\"to_guest\"} 100\n"));
	ck_assert_ptr_nonnull(strstr(text, "porthole_bytes_total{direction="
	    "\"from_guest\"} 2000\n"));
	ck_assert_ptr_nonnull(strstr(text, "porthole_refusals_total{verdict="
	    "\"refused\",reason=\"policy\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "porthole_sessions_ended_total{"
	    "reason=\"protocol_error\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "porthole_guests 0\n"));
	evbuffer_free(b);
}
END_TEST

static void
count_cb(const struct hevent *ev, void *arg)
{
	int	*n = arg;

	ck_assert_uint_eq(ev->seq, events_last_seq());
	(*n)++;
}

START_TEST(test_events_subscribe)
{
	struct events_sub	*a, *b;
	int			 na = 0, nb = 0;
	uint64_t		 seq = events_last_seq();

	a = events_subscribe(count_cb, &na);
	b = events_subscribe(count_cb, &nb);
	events_policy("test");
	events_unsubscribe(a);
	events_policy("test");
	events_unsubscribe(b);
	events_policy("test");
	ck_assert_int_eq(na, 1);
	ck_assert_int_eq(nb, 2);
	ck_assert_uint_eq(events_last_seq(), seq + 3);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite	*s = suite_create("api");
	TCase	*tc;

	tc = tcase_create("body");
	tcase_add_loop_test(tc, test_body_policy, 0,
	    sizeof body_cases / sizeof body_cases[0]);
	tcase_add_test(tc, test_body_errors_printable);
	suite_add_tcase(s, tc);

	tc = tcase_create("path");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_path_prepare);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, state_setup, state_teardown);
	tcase_add_test(tc, test_end_labels);
	tcase_add_test(tc, test_json_time);
	tcase_add_test(tc, test_json_text);
	tcase_add_test(tc, test_metrics_from_events);
	tcase_add_test(tc, test_events_subscribe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(api_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
