/*
 * The "exec" trigger: the proc connector tells us when any process in
 * the VM starts a program or exits, and a new server usually binds soon
 * after it starts (an old one's binds go when it exits).  scan.c then
 * scans in a burst over the next seconds.
 *
 * It misses a running process that binds a new port (the slow poll
 * catches that), it fires for every short-lived process (a build in the
 * VM wakes us often), and the connector exists only in the initial
 * network namespace: the "listen" trigger is better where it works.
 * Needs CAP_NET_ADMIN.
 */
#include <sys/socket.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>

#include "guest.h"
#include "log.h"

static struct {
	struct mnl_socket	*nl;
	struct event		*ev;
} xv;

/* Asks for the events (or, at the end, stops them). */
static int
execev_listen(enum proc_cn_mcast_op op)
{
	uint8_t			 buf[NLMSG_SPACE(sizeof(struct cn_msg) +
				    sizeof op)];
	struct nlmsghdr		*nlh;
	struct cn_msg		*cn;

	memset(buf, 0, sizeof buf);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	cn = mnl_nlmsg_put_extra_header(nlh, sizeof *cn + sizeof op);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof op;
	memcpy(cn->data, &op, sizeof op);
	return mnl_socket_sendto(xv.nl, nlh, nlh->nlmsg_len) == -1 ? -1 : 0;
}

/* One message: a process (not a thread) started a program or exited. */
static int
execev_is_start_or_exit(const struct nlmsghdr *nlh, size_t len)
{
	const struct cn_msg	*cn;
	const struct proc_event	*pe;

	if (!NLMSG_OK(nlh, len) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof *cn + sizeof *pe)
		return 0;
	cn = mnl_nlmsg_get_payload(nlh);
	pe = (const struct proc_event *)cn->data;
	if (pe->what == PROC_EVENT_EXEC)
		return 1;
	return pe->what == PROC_EVENT_EXIT &&
	    pe->event_data.exit.process_pid == pe->event_data.exit.process_tgid;
}

static void
execev_read_cb(int fd, short ev, void *arg)
{
	uint8_t		buf[8192] __attribute__((aligned(8)));
	ssize_t		n;
	int		kick = 0;

	(void)ev;
	(void)arg;
	/* Each datagram is one event; take all there are. */
	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		kick |= execev_is_start_or_exit((struct nlmsghdr *)buf,
		    (size_t)n);
	if (n == -1 && errno == ENOBUFS)
		kick = 1;	/* we fell behind: some were lost */
	if (kick)
		scan_kick();
}

int
execev_start(void)
{
	xv.nl = mnl_socket_open2(NETLINK_CONNECTOR, SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	if (xv.nl == NULL || mnl_socket_bind(xv.nl, CN_IDX_PROC,
	    MNL_SOCKET_AUTOPID) == -1 || execev_listen(PROC_CN_MCAST_LISTEN) ==
	    -1) {
		log_debug("exec trigger: proc connector: %s", strerror(errno));
		execev_stop();
		return -1;
	}
	xv.ev = event_new(guest->base, mnl_socket_get_fd(xv.nl),
	    EV_READ | EV_PERSIST, execev_read_cb, NULL);
	if (xv.ev == NULL)
		fatalx("event_new");
	event_add(xv.ev, NULL);
	return 0;
}

void
execev_stop(void)
{
	if (xv.ev != NULL) {
		event_free(xv.ev);
		(void)execev_listen(PROC_CN_MCAST_IGNORE);
	}
	if (xv.nl != NULL)
		mnl_socket_close(xv.nl);
	xv.ev = NULL;
	xv.nl = NULL;
}
