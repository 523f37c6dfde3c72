/*
 * Unit tests for proto/fwtable.c: the table of forwards that portholectl
 * ls and porthole-guest status print, from the JSON both agents give
 * (docs/protocol.md), golden strings for each.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fwtable.h"

/* Two forwards as GET /v1/forwards gives them: rewritten and refused. */
static const char host_json[] = "["
    "{\"guest\": \"vm\", \"id\": 1, \"proto\": \"tcp\","
    " \"guest_address\": \"0.0.0.0\", \"guest_port\": 8080,"
    " \"v6only\": false, \"process\": \"python3\","
    " \"verdict\": \"rewritten\","
    " \"host\": [{\"address\": \"127.0.0.1\", \"port\": 8080}],"
    " \"reason\": \"wildcard bind 0.0.0.0 rewritten to loopback\","
    " \"connections_active\": 1, \"connections_total\": 12},"
    "{\"guest\": \"vm\", \"id\": 2, \"proto\": \"udp\","
    " \"guest_address\": \"::\", \"guest_port\": 53,"
    " \"v6only\": true, \"process\": null,"
    " \"verdict\": \"refused\", \"host\": [],"
    " \"reason\": \"refused by policy refuse\","
    " \"connections_active\": 0, \"connections_total\": 0}]";

/* A bind as the guest's status socket gives it: waiting, two listeners. */
static const char guest_json[] = "["
    "{\"id\": 7, \"proto\": \"tcp\", \"guest_address\": \"::1\","
    " \"guest_port\": 9000, \"v6only\": false, \"process\": \"node\","
    " \"verdict\": \"bound\", \"host\": ["
    "{\"address\": \"127.0.0.1\", \"port\": 9000},"
    "{\"address\": \"::1\", \"port\": 9000}],"
    " \"reason\": \"loopback bind\"},"
    "{\"id\": 8, \"proto\": \"tcp\", \"guest_address\": \"10.0.0.5\","
    " \"guest_port\": 80, \"process\": \"\", \"verdict\": \"waiting\","
    " \"host\": [], \"reason\": \"no answer from the host yet\"}]";

static char *
render(const char *json, int flags)
{
	json_error_t	 jerr;
	json_t		*list = json_loads(json, 0, &jerr);
	char		*out = NULL;
	size_t		 len = 0;
	FILE		*fp;

	ck_assert_msg(list != NULL, "bad test JSON: %s", jerr.text);
	ck_assert_ptr_nonnull(fp = open_memstream(&out, &len));
	fwtable_print(fp, list, flags);
	fclose(fp);
	json_decref(list);
	return out;
}

START_TEST(test_host)
{
	char	*out = render(host_json, FWTABLE_GUEST | FWTABLE_CONNS);

	ck_assert_str_eq(out,
	    "GUEST  PROTO  GUEST ADDRESS  HOST ADDRESS    VERDICT    "
	    "CONNS  PROCESS  REASON\n"
	    "vm     tcp    0.0.0.0:8080   127.0.0.1:8080  rewritten  "
	    "1/12   python3  wildcard bind 0.0.0.0 rewritten to loopback\n"
	    "vm     udp    [::]:53        -               refused    "
	    "0/0    -        refused by policy refuse\n");
	free(out);
}
END_TEST

START_TEST(test_guest)
{
	char	*out = render(guest_json, 0);

	ck_assert_str_eq(out,
	    "PROTO  GUEST ADDRESS  HOST ADDRESS               VERDICT  "
	    "PROCESS  REASON\n"
	    "tcp    [::1]:9000     127.0.0.1:9000,[::1]:9000  bound    "
	    "node     loopback bind\n"
	    "tcp    10.0.0.5:80    -                          waiting  "
	    "-        no answer from the host yet\n");
	free(out);
}
END_TEST

/* An agent newer or older than the client: what is missing is "-". */
START_TEST(test_missing_fields)
{
	char	*out = render("[{}, 5, null]", FWTABLE_GUEST);

	ck_assert_str_eq(out,
	    "GUEST  PROTO  GUEST ADDRESS  HOST ADDRESS  VERDICT  PROCESS  "
	    "REASON\n"
	    "-      -      -:0            -             -        -        -\n"
	    "-      -      -:0            -             -        -        -\n"
	    "-      -      -:0            -             -        -        -\n");
	free(out);
}
END_TEST

/* A cell longer than the renderer keeps is cut, never overrun. */
START_TEST(test_long_cell)
{
	char	 json[4096], reason[2001], *out;

	memset(reason, 'r', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	snprintf(json, sizeof json, "[{\"reason\": \"%s\"}]", reason);
	out = render(json, 0);
	ck_assert_ptr_nonnull(strstr(out, "rrrr\n"));
	ck_assert_uint_lt(strlen(out), 1024);
	free(out);
}
END_TEST

START_TEST(test_addr)
{
	char	buf[64];

	fwtable_addr(buf, sizeof buf, "127.0.0.1", 80);
	ck_assert_str_eq(buf, "127.0.0.1:80");
	fwtable_addr(buf, sizeof buf, "fe80::1", 65535);
	ck_assert_str_eq(buf, "[fe80::1]:65535");
}
END_TEST

static Suite *
fwtable_suite(void)
{
	Suite	*s = suite_create("fwtable");
	TCase	*tc = tcase_create("print");

	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_guest);
	tcase_add_test(tc, test_missing_fields);
	tcase_add_test(tc, test_long_cell);
	tcase_add_test(tc, test_addr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(fwtable_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
