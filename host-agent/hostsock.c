/*
 * The host sockets of a forward, TCP and UDP alike: options, bind,
 * listen, and the port the kernel chose when asked for port 0 ("to auto"
 * in a policy file).  One sequence, so that both protocols close a socket
 * that failed the same way and report the same errno.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <unistd.h>

#include "host.h"

#define HOSTSOCK_BACKLOG	511

/*
 * TCP: SO_REUSEADDR, so that a port a closed forward held (TIME_WAIT)
 * binds again.  UDP: never SO_REUSEADDR, which would let another local
 * socket that sets it bind the same port and take our datagrams; the
 * packet info instead, so that a reply leaves from the address the
 * client sent to.  IPv6: v6only, the IPv4 side being a socket of its own.
 */
static int
hostsock_options(int fd, int family, int type)
{
	int	one = 1;

	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &one, sizeof one) == -1)
		return -1;
	if (type == SOCK_STREAM)
		return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one);
	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
		    sizeof one);
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
	    sizeof one);
}

/*
 * Opens one host socket of type (SOCK_STREAM, listening, or SOCK_DGRAM)
 * on h; returns it, or -1 with errno set.  Port 0 lets the kernel
 * choose, and h says which it chose.
 */
static int
hostsock_open_once(struct ph_hostaddr *h, int type)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	int			fd, saved;

	sl = addr_to_sockaddr(&h->addr, h->port, &ss);
	fd = socket(h->addr.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (hostsock_options(fd, h->addr.family, type) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    (type == SOCK_STREAM && listen(fd, HOSTSOCK_BACKLOG) == -1) ||
	    (h->port == 0 && (getsockname(fd, (struct sockaddr *)&ss,
	    &sl) == -1 || addr_from_sockaddr((struct sockaddr *)&ss, &h->addr,
	    &h->port) == -1))) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

#define HOSTSOCK_AUTO_TRIES	16

/*
 * hostsock_open_once for forward f.  The kernel's port 0 avoids only
 * ports bound at the same address: it may offer, on 127.0.0.1, the port
 * another forward has on [::1], and localhost:PORT would then reach
 * either forward by the address family a client tries first.  Such a
 * port (admit_port_taken) is passed over; the sockets holding those
 * stay open until a good one is found, so that the kernel offers
 * another each time.
 */
int
hostsock_open(const struct forward *f, struct ph_hostaddr *h, int type)
{
	int	held[HOSTSOCK_AUTO_TRIES], n = 0, fd, saved;
	int	chooses = h->port == 0;

	while ((fd = hostsock_open_once(h, type)) != -1 && chooses &&
	    n < HOSTSOCK_AUTO_TRIES && admit_port_taken(f, h->port)) {
		held[n++] = fd;
		h->port = 0;
	}
	/* Out of tries, the last offer may be taken too: never share it. */
	if (fd != -1 && chooses && admit_port_taken(f, h->port)) {
		close(fd);
		fd = -1;
		errno = EADDRINUSE;
	}
	saved = errno;
	while (n > 0)
		close(held[--n]);
	errno = saved;
	return fd;
}
