/*
 * Unit tests for guest-agent/scan.c: when the bind watcher scans.  The
 * timers and the clock stay out: the tests give scan_next_ms() the time
 * since a kick and check the wait it chooses (the burst's next step, or
 * the slow poll), and give the token bucket (scan_refill, scan_wait_ms)
 * the time that passed.  A storm of kicks, played through the bucket as
 * scan_timer_cb() spends it, must cost at most SCAN_BURST scans at once
 * and SCAN_RATE a second after.  The triggers are stand-ins: nothing
 * here starts one.
 */
#include <check.h>
#include <stdlib.h>

#include "guest.h"

struct guest	*guest;

/* scan.c's numbers, as its comments and the man page give them. */
#define RATE	100	/* scans a second, in a storm */
#define BURST	20	/* scans at once */

int
listenev_start(void)
{
	return -1;
}

void
listenev_stop(void)
{
}

int
execev_start(void)
{
	return -1;
}

void
execev_stop(void)
{
}

void
watch_scan(void)
{
}

/* The DNAT rules' safety net, at each scan of the poll: none here. */
void
nat_poll(void)
{
}

void
watch_foreach(void (*cb)(struct gbind *, void *), void *arg)
{
	(void)cb;
	(void)arg;
}

/* scan.c's bursts: the listen trigger's and the exec trigger's. */
static const int	listen_burst[] = { 0, 2, 20 };
static const int	exec_burst[] = { 0, 10, 50, 200, 1000, 3000 };

static const struct {
	const int	*burst;
	int		 nburst;
	int		 step;		/* before */
	long		 since;		/* ms since the kick */
	long		 want;		/* ms to wait */
	int		 want_step;	/* after */
} nexts[] = {
	/* listen: the kick's scan, then 2 ms after it, then 20 */
	{ listen_burst, 3, 0, 0,	2,	1 },
	{ listen_burst, 3, 1, 2,	18,	2 },
	{ listen_burst, 3, 2, 20,	2000,	3 },
	/* a late scan skips the steps already past */
	{ listen_burst, 3, 0, 5,	15,	2 },
	{ listen_burst, 3, 1, 19,	1,	2 },
	{ listen_burst, 3, 0, 21,	2000,	3 },
	/* a scan early for its step waits out the rest of it */
	{ listen_burst, 3, 1, 1,	1,	1 },
	/* a burst cut short (the scan saw the change) */
	{ listen_burst, 3, 3, 0,	2000,	3 },
	/* exec: a server binds when it is ready, up to 3 s on */
	{ exec_burst, 6, 0, 0,		10,	1 },
	{ exec_burst, 6, 1, 10,		40,	2 },
	{ exec_burst, 6, 2, 55,		145,	3 },
	{ exec_burst, 6, 3, 200,	800,	4 },
	{ exec_burst, 6, 4, 1000,	2000,	5 },
	{ exec_burst, 6, 5, 2999,	1,	5 },
	{ exec_burst, 6, 5, 3000,	2000,	6 },
	{ exec_burst, 6, 0, 100000,	2000,	6 },
	/* none: the poll alone, whatever the time */
	{ NULL, 0, 0, 0,		2000,	0 },
	{ NULL, 0, 0, 5000,		2000,	0 },
};

START_TEST(test_next)
{
	int	step = nexts[_i].step;

	ck_assert_int_eq(scan_next_ms(nexts[_i].burst, nexts[_i].nburst,
	    &step, nexts[_i].since, 2000), nexts[_i].want);
	ck_assert_int_eq(step, nexts[_i].want_step);
}
END_TEST

/* -S: the poll is what it says. */
START_TEST(test_next_poll)
{
	int	step = 3;

	ck_assert_int_eq(scan_next_ms(listen_burst, 3, &step, 30, 250), 250);
	step = 0;
	ck_assert_int_eq(scan_next_ms(NULL, 0, &step, 0, GUEST_SCAN_MAX_MS),
	    GUEST_SCAN_MAX_MS);
}
END_TEST

static const struct {
	double	tokens;
	long	ms;
	double	want;
} refills[] = {
	{ 0,	0,	0 },
	{ 0,	10,	1 },		/* a token every 10 ms */
	{ 0,	5,	0.5 },
	{ 2.5,	15,	4 },
	{ 0,	200,	BURST },
	{ 0,	100000,	BURST },	/* never more than the burst */
	{ 19.5,	10,	BURST },
	{ BURST, 0,	BURST },
};

START_TEST(test_refill)
{
	ck_assert_double_eq_tol(scan_refill(refills[_i].tokens,
	    refills[_i].ms), refills[_i].want, 1e-9);
}
END_TEST

static const struct {
	double	tokens;
	long	want;
} waits[] = {
	{ BURST, 0 },
	{ 1,	0 },
	{ 1.5,	0 },
	{ 0,	10 },		/* a whole token to wait for */
	{ 0.5,	5 },
	{ 0.25,	7 },		/* 7.5 ms, cut to whole ms */
	{ 0.95,	0 },		/* under a ms */
};

START_TEST(test_wait)
{
	ck_assert_int_eq(scan_wait_ms(waits[_i].tokens), waits[_i].want);
}
END_TEST

/*
 * A storm: a kick every ms for two seconds, each scan spending a token
 * as scan_timer_cb() does.  At most BURST scans come at once; then one
 * each 1000 / RATE ms; never more than BURST + RATE in a second.
 */
START_TEST(test_storm)
{
	static int	scans_at[2001];
	double		tokens = BURST;
	long		now = 0, last = 0, due = 0;
	int		n = 0, i, in_second;

	while (now <= 2000) {
		/* a kick now: when may its scan run? */
		due = now + scan_wait_ms(scan_refill(tokens, now - last));
		if (due > 2000)
			break;
		/* the scan, at due */
		tokens = scan_refill(tokens, due - last);
		tokens = tokens >= 1 ? tokens - 1 : 0;
		last = due;
		scans_at[due]++;
		n++;
		now = due;
	}
	ck_assert_int_eq(scans_at[0], BURST);
	for (i = 1; i <= 2000; i++)
		ck_assert_int_le(scans_at[i], 1);
	for (i = 0, in_second = 0; i <= 1000; i++)
		in_second += scans_at[i];
	ck_assert_int_le(in_second, BURST + RATE + 1);
	ck_assert_int_ge(in_second, BURST + RATE - 1);
	ck_assert_int_le(n, BURST + 2 * RATE + 1);
	ck_assert_int_ge(n, BURST + 2 * RATE - 2);
}
END_TEST

/* After a quiet second the whole burst is there again. */
START_TEST(test_quiet_refills)
{
	double	tokens = 0;
	int	i;

	tokens = scan_refill(tokens, 1000);
	for (i = 0; i < BURST; i++) {
		ck_assert_int_eq(scan_wait_ms(tokens), 0);
		tokens -= 1;
	}
	ck_assert_int_eq(scan_wait_ms(tokens), 1000 / RATE);
}
END_TEST

static const struct {
	const char	*name;
	int		 ok;
} triggers[] = {
	{ "auto",	1 },
	{ "listen",	1 },
	{ "exec",	1 },
	{ "none",	1 },
	{ "",		0 },
	{ "Listen",	0 },
	{ "listen ",	0 },
	{ "ebpf",	0 },
	{ "poll",	0 },
};

START_TEST(test_trigger_ok)
{
	ck_assert_int_eq(scan_trigger_ok(triggers[_i].name), triggers[_i].ok);
}
END_TEST

static Suite *
scan_suite(void)
{
	Suite	*s = suite_create("scan");
	TCase	*tc;

	tc = tcase_create("burst");
	tcase_add_loop_test(tc, test_next, 0, sizeof nexts / sizeof nexts[0]);
	tcase_add_test(tc, test_next_poll);
	suite_add_tcase(s, tc);

	tc = tcase_create("bucket");
	tcase_add_loop_test(tc, test_refill, 0,
	    sizeof refills / sizeof refills[0]);
	tcase_add_loop_test(tc, test_wait, 0, sizeof waits / sizeof waits[0]);
	tcase_add_test(tc, test_storm);
	tcase_add_test(tc, test_quiet_refills);
	suite_add_tcase(s, tc);

	tc = tcase_create("trigger");
	tcase_add_loop_test(tc, test_trigger_ok, 0,
	    sizeof triggers / sizeof triggers[0]);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(scan_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
