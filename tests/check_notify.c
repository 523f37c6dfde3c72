/*
 * Unit tests for guest-agent/notify.c: the sd_notify protocol, spoken to
 * a real AF_UNIX datagram socket bound by the test, at a path and at an
 * abstract name, as systemd binds it.  Each datagram must be what
 * systemd expects: newline-separated KEY=VALUE lines, READY=1 once, a
 * STATUS= of one line.  check forks for every test, so each starts with
 * the agent's notify state fresh.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

static int	rx = -1;		/* the "systemd" end */
static char	rxpath[108];

static void
bind_path(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	snprintf(rxpath, sizeof rxpath, "/tmp/ph-check-notify.%d",
	    (int)getpid());
	unlink(rxpath);
	strlcpy(sun.sun_path, rxpath, sizeof sun.sun_path);
	rx = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(rx, 0);
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&sun, sizeof sun), 0);
	setenv("NOTIFY_SOCKET", rxpath, 1);
}

static void
teardown(void)
{
	if (rx != -1)
		close(rx);
	rx = -1;
	if (rxpath[0] != '\0')
		unlink(rxpath);
	rxpath[0] = '\0';
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, as a string; "" if none is waiting. */
static const char *
next(void)
{
	static char	buf[1024];
	ssize_t		n;

	n = recv(rx, buf, sizeof buf - 1, MSG_DONTWAIT);
	if (n == -1) {
		ck_assert_int_eq(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return buf;
}

START_TEST(test_ready_then_status)
{
	bind_path();
	ck_assert_int_eq(notify_init(), 0);
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));	/* not inherited */
	notify_ready("host %s: %s; retrying", "unix:/x", "Connection refused");
	ck_assert_str_eq(next(), "READY=1\n"
	    "STATUS=host unix:/x: Connection refused; retrying\n");
	/* The same status again is not sent again; READY=1 only once. */
	notify_ready("host %s: %s; retrying", "unix:/x", "Connection refused");
	ck_assert_str_eq(next(), "");
	notify_ready("connected to host %s", "unix:/x");
	ck_assert_str_eq(next(), "STATUS=connected to host unix:/x\n");
	notify_stopping();
	ck_assert_str_eq(next(), "STOPPING=1\nSTATUS=exiting\n");
}
END_TEST

START_TEST(test_abstract)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	char			name[64];
	int			n;

	/* systemd writes an abstract address as "@name". */
	n = snprintf(name, sizeof name, "@ph-check-notify.%d", (int)getpid());
	memcpy(sun.sun_path, name, (size_t)n);
	sun.sun_path[0] = '\0';
	rx = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(rx, 0);
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(notify_init(), 0);
	notify_ready("connected to host %s", "vsock:2:6440");
	ck_assert_str_eq(next(), "READY=1\n"
	    "STATUS=connected to host vsock:2:6440\n");
}
END_TEST

/* A newline in a status (a peer's text, say) cannot add a key. */
START_TEST(test_status_one_line)
{
	bind_path();
	ck_assert_int_eq(notify_init(), 0);
	notify_ready("evil\nREADY=0\nMAINPID=1");
	ck_assert_str_eq(next(), "READY=1\nSTATUS=evil\n");
}
END_TEST

START_TEST(test_no_socket)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_init(), 0);
	ck_assert_int_eq(notify_send("READY=1\n"), -1);
	notify_ready("connected");		/* harmless */
	notify_stopping();
}
END_TEST

static const char *bad_values[] = {
	"relative/path",
	"vsock:2:6440",
	/* 108 bytes: one more than sun_path holds with its NUL */
	"/1234567890123456789012345678901234567890123456789012345678901234"
	    "5678901234567890123456789012345678901234567",
};

START_TEST(test_bad_value)
{
	setenv("NOTIFY_SOCKET", bad_values[_i], 1);
	ck_assert_int_eq(notify_init(), -1);
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_int_eq(notify_send("READY=1\n"), -1);
}
END_TEST

/* systemd went away: the send fails, and the agent goes on. */
START_TEST(test_receiver_gone)
{
	bind_path();
	ck_assert_int_eq(notify_init(), 0);
	close(rx);
	rx = -1;
	unlink(rxpath);
	ck_assert_int_eq(notify_send("READY=1\n"), -1);
	notify_ready("connected");
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite	*s = suite_create("notify");
	TCase	*tc;

	tc = tcase_create("sd_notify");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_ready_then_status);
	tcase_add_test(tc, test_abstract);
	tcase_add_test(tc, test_status_one_line);
	tcase_add_test(tc, test_no_socket);
	tcase_add_loop_test(tc, test_bad_value, 0,
	    sizeof bad_values / sizeof bad_values[0]);
	tcase_add_test(tc, test_receiver_gone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(notify_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
