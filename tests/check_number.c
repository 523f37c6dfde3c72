/*
 * Unit tests for proto/number.c: a number is digits only, in range;
 * everything else is refused with the reason, and an option's error
 * names the option and the range.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

static const struct number_case {
	const char	*in;
	long long	 min, max;
	long long	 want;		/* when why is NULL */
	const char	*why;		/* number_parse()'s errstr */
} cases[] = {
	{ "0", 0, 10, 0, NULL },
	{ "5", 0, 10, 5, NULL },
	{ "10", 0, 10, 10, NULL },		/* max itself */
	{ "007", 0, 10, 7, NULL },		/* leading zeros are digits */
	{ "65535", 1, 65535, 65535, NULL },
	{ "65536", 1, 65535, 0, "too large" },	/* max + 1 */
	{ "0", 1, 65535, 0, "too small" },
	{ "4294967295", 0, 4294967295LL, 4294967295LL, NULL },
	{ "4294967296", 0, 4294967295LL, 0, "too large" },
	{ "9223372036854775807", 0, LLONG_MAX, LLONG_MAX, NULL },
	{ "9223372036854775808", 0, LLONG_MAX, 0, "too large" },
	{ "99999999999999999999999999", 0, 10, 0, "too large" },
	{ "", 0, 10, 0, "not a number" },
	{ "+5", 0, 10, 0, "not a number" },
	{ "-1", 0, 10, 0, "not a number" },
	{ "-0", 0, 10, 0, "not a number" },
	{ " 5", 0, 10, 0, "not a number" },
	{ "5 ", 0, 10, 0, "not a number" },
	{ "5\n", 0, 10, 0, "not a number" },
	{ "0x10", 0, 100, 0, "not a number" },
	{ "1e3", 0, 10000, 0, "not a number" },
	{ "5.0", 0, 10, 0, "not a number" },
	{ "five", 0, 10, 0, "not a number" },
};

START_TEST(test_parse)
{
	const struct number_case	*t = &cases[_i];
	const char			*errstr = "unset";
	long long			 v;

	v = number_parse(t->in, t->min, t->max, &errstr);
	if (t->why == NULL) {
		ck_assert_msg(errstr == NULL, "\"%s\" refused: %s", t->in,
		    errstr);
		ck_assert_msg(v == t->want, "\"%s\" is %lld, not %lld",
		    t->in, v, t->want);
	} else {
		ck_assert_msg(errstr != NULL && strcmp(errstr, t->why) == 0,
		    "\"%s\": \"%s\", expected \"%s\"", t->in,
		    errstr != NULL ? errstr : "(accepted)", t->why);
		ck_assert_int_eq(v, 0);
	}
}
END_TEST

START_TEST(test_option_ok)
{
	char		err[128] = "untouched";
	long long	v = -1;

	ck_assert_int_eq(number_option("-k", "3600", 0, 3600, &v, err,
	    sizeof err), 0);
	ck_assert_int_eq(v, 3600);
	ck_assert_str_eq(err, "untouched");
}
END_TEST

START_TEST(test_option_error)
{
	static const char *const bad[] = { "", "+5", " 5", "5 ", "-1",
	    "3601", "0x10", "99999999999999999999" };
	char		err[128], want[128];
	long long	v;
	size_t		i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(number_option("--keepalive", bad[i], 0,
		    3600, &v, err, sizeof err), -1);
		snprintf(want, sizeof want, "--keepalive: \"%s\" is not a "
		    "number from 0 to 3600", bad[i]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

/* A short buffer gets a truncated, terminated message. */
START_TEST(test_option_small_err)
{
	char		err[12];
	long long	v;

	memset(err, 'G', sizeof err);
	ck_assert_int_eq(number_option("-u", "x", 1, 86400, &v, err, 8), -1);
	ck_assert_str_eq(err, "-u: \"x\"");
	ck_assert_int_eq(err[8], 'G');
}
END_TEST

static Suite *
number_suite(void)
{
	Suite	*s = suite_create("number");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse, 0, sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_option_ok);
	tcase_add_test(tc, test_option_error);
	tcase_add_test(tc, test_option_small_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(number_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
