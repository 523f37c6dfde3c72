/*
 * Unit tests for guest-agent/proc.c: which process holds a socket, read
 * from the real /proc.  The test's own sockets must be known as the
 * agent's (the watcher skips them: its streams' UDP sockets would
 * otherwise be forwarded back to the host), and another process's must
 * be named by that process's name, made safe for the protocol.  The
 * other processes are children that bind a socket, say its inode on a
 * pipe, and hold it until the test is done.  check forks for every test,
 * so each starts with proc.c's memory of the last lookup empty.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

#define NCHILD	2

static struct child {
	pid_t		pid;
	int		hold;		/* closed: the child exits */
	uint64_t	inode;
} kids[NCHILD];

static uint64_t
sock_inode(int fd)
{
	struct stat	sb;

	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	return (uint64_t)sb.st_ino;
}

/* A child named name holding a UDP socket; its inode comes back. */
static void
child_start(struct child *c, const char *name)
{
	int	toparent[2], hold[2], s;
	char	b;

	ck_assert_int_eq(pipe(toparent), 0);
	ck_assert_int_eq(pipe(hold), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		close(toparent[0]);
		close(hold[1]);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
			_exit(1);
		c->inode = sock_inode(s);
		if (write(toparent[1], &c->inode, sizeof c->inode) !=
		    (ssize_t)sizeof c->inode)
			_exit(1);
		/* Until the test is done: EOF, or an error. */
		_exit(read(hold[0], &b, 1) == -1);
	}
	close(toparent[1]);
	close(hold[0]);
	c->hold = hold[1];
	ck_assert_int_eq(read(toparent[0], &c->inode, sizeof c->inode),
	    (ssize_t)sizeof c->inode);
	close(toparent[0]);
}

/*
 * A later child holds the earlier ones' pipes too: all are closed before
 * any is waited for.
 */
static void
teardown(void)
{
	int	i, status;

	for (i = 0; i < NCHILD; i++)
		if (kids[i].pid > 0)
			close(kids[i].hold);
	for (i = 0; i < NCHILD; i++) {
		if (kids[i].pid <= 0)
			continue;
		ck_assert_int_eq(waitpid(kids[i].pid, &status, 0),
		    kids[i].pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		kids[i].pid = 0;
	}
}

static void
owner(uint64_t inode, char *name, size_t len)
{
	memset(name, 'x', len);
	proc_socket_owner(inode, name, len);
}

START_TEST(test_own_socket)
{
	char	 self[16], name[PH_NAME_MAX];
	int	 s;

	ck_assert_int_eq(prctl(PR_SET_NAME, "check_proc_me", 0, 0, 0), 0);
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(proc_is_own_socket(sock_inode(s)), 1);
	owner(sock_inode(s), name, sizeof name);
	ck_assert_int_eq(prctl(PR_GET_NAME, self, 0, 0, 0), 0);
	ck_assert_str_eq(name, self);
	ck_assert_str_eq(name, "check_proc_me");
	close(s);
}
END_TEST

START_TEST(test_other_process)
{
	char	name[PH_NAME_MAX];

	child_start(&kids[0], "phowner");
	ck_assert_int_eq(proc_is_own_socket(kids[0].inode), 0);
	owner(kids[0].inode, name, sizeof name);
	ck_assert_str_eq(name, "phowner");
}
END_TEST

/* Two owners, asked in turn: each answer is that socket's own. */
START_TEST(test_two_owners)
{
	char	name[PH_NAME_MAX];
	int	i, s;

	child_start(&kids[0], "first");
	child_start(&kids[1], "second");
	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	for (i = 0; i < 3; i++) {
		owner(kids[1].inode, name, sizeof name);
		ck_assert_str_eq(name, "second");
		ck_assert_int_eq(proc_is_own_socket(kids[1].inode), 0);
		ck_assert_int_eq(proc_is_own_socket(kids[0].inode), 0);
		owner(kids[0].inode, name, sizeof name);
		ck_assert_str_eq(name, "first");
		ck_assert_int_eq(proc_is_own_socket(sock_inode(s)), 1);
	}
	close(s);
}
END_TEST

/* A socket closed before the lookup: nobody's, and no name. */
START_TEST(test_gone)
{
	char		name[PH_NAME_MAX];
	uint64_t	inode;
	int		s;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(s, 0);
	inode = sock_inode(s);
	close(s);
	ck_assert_int_eq(proc_is_own_socket(inode), 0);
	owner(inode, name, sizeof name);
	ck_assert_str_eq(name, "");
}
END_TEST

/* A process may call itself anything; the protocol carries ASCII. */
START_TEST(test_name_made_safe)
{
	char	name[PH_NAME_MAX];

	child_start(&kids[0], "a\tb\x01" "c\x7f\xc3\xa9");
	owner(kids[0].inode, name, sizeof name);
	ck_assert_str_eq(name, "a?b?c???");
}
END_TEST

/* The name fits the buffer it is asked for, cut and terminated. */
START_TEST(test_name_short_buffer)
{
	char	name[5];

	child_start(&kids[0], "longername");
	owner(kids[0].inode, name, sizeof name);
	ck_assert_str_eq(name, "long");
}
END_TEST

static Suite *
proc_suite(void)
{
	Suite	*s = suite_create("proc");
	TCase	*tc;

	tc = tcase_create("owner");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_own_socket);
	tcase_add_test(tc, test_other_process);
	tcase_add_test(tc, test_two_owners);
	tcase_add_test(tc, test_gone);
	tcase_add_test(tc, test_name_made_safe);
	tcase_add_test(tc, test_name_short_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(proc_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
