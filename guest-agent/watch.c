/*
 * The bind watcher.  A NETLINK_SOCK_DIAG dump asks the kernel for
 * listening TCP sockets and unconnected UDP sockets only (IPv4 and
 * IPv6), so a scan costs the same however many connections the VM has.
 * Each scan is diffed against the last: a new bind is sent as EXPOSE, a
 * gone one as UNEXPOSE.  Sockets that share an address and port
 * (SO_REUSEPORT) are one bind.
 *
 * A bound UDP socket that is not connected is in state TCP_CLOSE, and is
 * a bind; a connected one (TCP_ESTABLISHED: a client, or our own flows'
 * sockets) talks to one peer only and is not.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>

#include "compat.h"
#include "guest.h"
#include "log.h"
#include "xmalloc.h"

static int
bind_key_cmp(struct gbind *a, struct gbind *b)
{
	int	c;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->proto == PH_KIND_UNIX)	/* a socket: by its path */
		return strcmp(a->path, b->path);
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if ((c = addr_cmp(&a->addr, &b->addr)) != 0)
		return c;
	return 0;
}

static int
bind_id_cmp(struct gbind *a, struct gbind *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(bind_keys, gbind);
RB_HEAD(bind_ids, gbind);
PH_RB_PROTOTYPE(bind_keys, gbind, by_key, bind_key_cmp);
PH_RB_PROTOTYPE(bind_ids, gbind, by_id, bind_id_cmp);
PH_RB_GENERATE(bind_keys, gbind, by_key, bind_key_cmp)
PH_RB_GENERATE(bind_ids, gbind, by_id, bind_id_cmp)

static struct bind_keys	 keys = RB_INITIALIZER(&keys);
static struct bind_ids	 ids = RB_INITIALIZER(&ids);
static struct mnl_socket *nl;
static unsigned int	 gen, seq;
static uint32_t		 next_id = 1;
static int		 udp_off;	/* the kernel has no UDP sock_diag */
static int		 unix_off;	/* nor Unix sock_diag */

struct gbind *
watch_find(uint32_t id)
{
	struct gbind	key = { .id = id };

	return RB_FIND(bind_ids, &ids, &key);
}

void
watch_foreach(void (*cb)(struct gbind *, void *), void *arg)
{
	struct gbind	*b;

	RB_FOREACH(b, bind_ids, &ids)
		cb(b, arg);
}

/*
 * Where to dial for a bind: a DNAT rule's destination; loopback for a
 * wildcard; else its address.
 */
void
watch_target(const struct gbind *b, struct ph_addr *a, uint16_t *port)
{
	*port = b->port;
	if (b->nat) {
		*a = b->to;
		*port = b->to_port;
	} else if (addr_is_any(&b->addr))
		addr_loopback(b->addr.family, a);
	else
		*a = b->addr;
}

/* A bind (key, with its process named) enters the table and is sent. */
static void
watch_add(const struct gbind *key)
{
	struct gbind	*b;
	char		 ga[PH_ADDRSTRLEN], ta[PH_ADDRSTRLEN];

	b = xcalloc(1, sizeof *b);
	*b = *key;
	b->id = next_id++;
	b->gen = gen;
	RB_INSERT(bind_keys, &keys, b);
	RB_INSERT(bind_ids, &ids, b);
	if (b->proto == PH_KIND_UNIX)
		log_info("new socket: %s as %s%s%s", b->path, b->name,
		    b->process[0] != '\0' ? " by " : "", b->process);
	else
		log_info("new bind: %s %s%s%s%s%s%s",
		    proto_name(b->proto),
		    addr_fmt(&b->addr, b->port, ga, sizeof ga),
		    b->addr.family == AF_INET6 && !b->v6only &&
		    addr_is_any(&b->addr) ? " (dual-stack)" : "",
		    b->process[0] != '\0' ? " by " : "", b->process,
		    b->nat ? ", DNAT to " : "",
		    b->nat ? addr_fmt(&b->to, b->to_port, ta, sizeof ta) : "");
	gsession_expose(b);
}

static void
watch_new(const struct gbind *key, uint64_t inode)
{
	struct gbind	b = *key;

	if (proc_is_own_socket(inode))
		return;
	proc_socket_owner(inode, b.process, sizeof b.process);
	watch_add(&b);
}

static void	watch_gone(struct gbind *);

/*
 * The bind of proto and port seen first: by key order, the lowest
 * address.  NULL if none.
 */
static struct gbind *
watch_first_on_port(uint8_t proto, uint16_t port)
{
	struct gbind	key, *b;

	memset(&key, 0, sizeof key);
	key.proto = proto;
	key.port = port;
	b = RB_NFIND(bind_keys, &keys, &key);
	return b != NULL && b->proto == proto && b->port == port ? b : NULL;
}

/* A socket on proto and port wins: the rules' binds of it go now. */
static void
watch_drop_nat(uint8_t proto, uint16_t port)
{
	struct gbind	*b, *next;

	for (b = watch_first_on_port(proto, port);
	    b != NULL && b->proto == proto && b->port == port; b = next) {
		next = RB_NEXT(bind_keys, &keys, b);
		if (b->nat)
			watch_gone(b);
	}
}

/*
 * Was a socket on proto and port seen by the scan under way, or is one
 * coming (a bind a proxy holds)?
 */
static int
watch_socket_on_port(uint8_t proto, uint16_t port)
{
	struct gbind	*b;

	for (b = watch_first_on_port(proto, port);
	    b != NULL && b->proto == proto && b->port == port;
	    b = RB_NEXT(bind_keys, &keys, b))
		if (!b->nat && (b->gen == gen || b->held > 0))
			return 1;
	return 0;
}

/*
 * A port a DNAT rule publishes, seen by the scan under way after its
 * sockets (nat.c): a bind on the wildcard address of its family, unless
 * a socket holds the same protocol and port.
 */
void
watch_seen_nat(const struct natbind *n)
{
	struct gbind	key, *b;

	if (watch_ignored(guest->ignore, guest->nignore, n->proto, n->port) ||
	    watch_socket_on_port(n->proto, n->port))
		return;
	memset(&key, 0, sizeof key);
	key.proto = n->proto;
	key.port = n->port;
	addr_any(n->to.family, &key.addr);
	key.v6only = n->to.family == AF_INET6;
	key.nat = 1;
	key.to = n->to;
	key.to_port = n->to_port;
	strlcpy(key.process, n->name, sizeof key.process);
	if ((b = RB_FIND(bind_keys, &keys, &key)) != NULL) {
		if (b->nat && b->to_port == key.to_port &&
		    addr_equal(&b->to, &key.to) &&
		    strcmp(b->process, key.process) == 0) {
			b->gen = gen;
			return;
		}
		watch_gone(b);	/* another rule now, or a socket gone */
	}
	watch_add(&key);
}

/*
 * A bind a userland proxy asks for before it listens (pxsock.c): the
 * known one with that key, or a new one, exposed at once and named
 * after the proxy.  A held bind stays, whether a scan sees its socket
 * or not, so that the proxy's socket, once it listens, is the same bind
 * (no second EXPOSE) and one that never comes is withdrawn only when
 * the proxy lets go (watch_release).
 */
struct gbind *
watch_hold(const struct gbind *key, const char *process)
{
	struct gbind	*b;
	char		 ga[PH_ADDRSTRLEN];

	watch_drop_nat(key->proto, key->port);	/* a socket is coming */
	if ((b = RB_FIND(bind_keys, &keys, (struct gbind *)key)) == NULL) {
		b = xcalloc(1, sizeof *b);
		*b = *key;
		b->id = next_id++;
		b->gen = gen;
		strlcpy(b->process, process, sizeof b->process);
		RB_INSERT(bind_keys, &keys, b);
		RB_INSERT(bind_ids, &ids, b);
		log_info("new bind: %s %s%s by %s (asked before it binds)",
		    proto_name(b->proto), addr_fmt(&b->addr, b->port, ga,
		    sizeof ga), b->addr.family == AF_INET6 && !b->v6only &&
		    addr_is_any(&b->addr) ? " (dual-stack)" : "", b->process);
		gsession_expose(b);
	}
	b->held++;
	return b;
}

/*
 * A proxy let go of bind id: the last one to lets the scans decide,
 * and one is asked for now, so that a bind nothing listens on goes at
 * once.
 */
void
watch_release(uint32_t id)
{
	struct gbind	*b;

	if ((b = watch_find(id)) == NULL || b->held == 0)
		return;
	if (--b->held == 0)
		scan_kick();
}

/*
 * Is a bind on port skipped?  The -i list: a port alone matches TCP and
 * UDP (proto 0), PORT/tcp or PORT/udp that protocol only.
 */
int
watch_ignored(const struct ignore *list, int n, uint8_t proto,
    uint16_t port)
{
	int	i;

	for (i = 0; i < n; i++)
		if (list[i].port == port &&
		    (list[i].proto == 0 || list[i].proto == proto))
			return 1;
	return 0;
}

/*
 * One socket of the scan under way: the bind it is (known, new, or
 * skipped: port 0, an ignored port, one of our own sockets).
 */
void
watch_seen(const struct gbind *key, uint64_t inode)
{
	struct gbind	*b;

	if (key->proto != PH_KIND_UNIX && (key->port == 0 ||
	    watch_ignored(guest->ignore, guest->nignore, key->proto,
	    key->port)))
		return;
	if ((b = RB_FIND(bind_keys, &keys, (struct gbind *)key)) != NULL &&
	    !b->nat) {
		b->gen = gen;
		return;
	}
	if (key->proto != PH_KIND_UNIX)	/* no rule publishes a socket */
		watch_drop_nat(key->proto, key->port);
	watch_new(key, inode);
}

static int
watch_attr_cb(const struct nlattr *a, void *arg)
{
	int	*v6only = arg;

	if (mnl_attr_get_type(a) == INET_DIAG_SKV6ONLY &&
	    mnl_attr_validate(a, MNL_TYPE_U8) == 0)
		*v6only = mnl_attr_get_u8(a) != 0;
	return MNL_CB_OK;
}

/*
 * The bind key of one sock_diag answer, and its socket's inode; 0 if
 * the message is not an IPv4 or IPv6 socket (a short one, say).
 */
int
watch_decode(const struct nlmsghdr *nlh, uint8_t proto, struct gbind *key,
    uint64_t *inode)
{
	const struct inet_diag_msg	*m;
	int				 v6only = 0;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
		return 0;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return 0;
	mnl_attr_parse(nlh, sizeof *m, watch_attr_cb, &v6only);
	memset(key, 0, sizeof *key);
	key->proto = proto;
	key->port = ntohs(m->id.idiag_sport);
	key->addr.family = m->idiag_family;
	if (m->idiag_family == AF_INET)
		memcpy(&key->addr.u.v4, m->id.idiag_src, 4);
	else
		memcpy(&key->addr.u.v6, m->id.idiag_src, 16);
	key->v6only = v6only;
	*inode = m->idiag_inode;
	return 1;
}

static int
watch_msg_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct gbind	key;
	uint64_t	inode;
	uint8_t		proto = *(uint8_t *)arg;

	if (proto == PH_KIND_UNIX ? uwatch_decode(nlh, &key, &inode) :
	    watch_decode(nlh, proto, &key, &inode))
		watch_seen(&key, inode);
	return MNL_CB_OK;
}

/* A dump's request header, in buf. */
static struct nlmsghdr *
watch_request(uint8_t *buf)
{
	struct nlmsghdr	*nlh;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++seq;
	return nlh;
}

/* Sends the request in buf and reads its answers, for proto's binds. */
static int
watch_run(uint8_t *buf, size_t len, uint8_t proto)
{
	struct nlmsghdr	*nlh = (struct nlmsghdr *)buf;
	ssize_t		 n;
	int		 r;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1) {
		log_warn("sock_diag: send");
		return -1;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, len)) > 0) {
		r = mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl),
		    watch_msg_cb, &proto);
		if (r == MNL_CB_STOP)
			return 0;
		if (r == MNL_CB_ERROR) {
			if (errno != ENOENT)
				log_warn("sock_diag: %s dump",
				    proto_name(proto));
			return -1;
		}
	}
	log_warn("sock_diag: receive");
	return -1;
}

static int
watch_dump(int family, uint8_t proto, uint32_t states)
{
	static uint8_t		 buf[32768];
	struct inet_diag_req_v2	*req;

	req = mnl_nlmsg_put_extra_header(watch_request(buf), sizeof *req);
	req->sdiag_family = family;
	req->sdiag_protocol = proto;
	req->idiag_states = states;
	return watch_run(buf, sizeof buf, proto);
}

/*
 * Listening Unix sockets, when any may be forwarded (usock.c).  Without
 * unix_diag in the kernel (ENOENT), said once, and sockets are not
 * watched.
 */
static int
watch_dump_unix(void)
{
	static uint8_t	buf[32768];

	if (unix_off || !usock_enabled())
		return 0;
	uwatch_request(watch_request(buf));
	if (watch_run(buf, sizeof buf, PH_KIND_UNIX) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	log_warnx("this kernel cannot list Unix sockets (no unix_diag): "
	    "Unix sockets are not forwarded");
	unix_off = 1;
	return -1;
}

static void
watch_gone(struct gbind *b)
{
	char	ga[PH_ADDRSTRLEN];

	if (b->proto == PH_KIND_UNIX)
		log_info("socket gone: %s", b->path);
	else
		log_info("bind gone: %s %s", proto_name(b->proto),
		    addr_fmt(&b->addr, b->port, ga, sizeof ga));
	gsession_unexpose(b);
	RB_REMOVE(bind_keys, &keys, b);
	RB_REMOVE(bind_ids, &ids, b);
	free(b);
}

/*
 * Unconnected UDP sockets.  A kernel built without UDP sock_diag
 * (CONFIG_INET_UDP_DIAG) answers ENOENT: UDP is then not watched, and
 * TCP is watched as before.
 */
static int
watch_dump_udp(void)
{
	if (udp_off)
		return 0;
	if (watch_dump(AF_INET, IPPROTO_UDP, 1 << TCP_CLOSE) == 0 &&
	    watch_dump(AF_INET6, IPPROTO_UDP, 1 << TCP_CLOSE) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	log_warnx("this kernel cannot list UDP sockets (no udp_diag): "
	    "UDP ports are not forwarded");
	udp_off = 1;
	return -1;
}

/* A scan starts: what it does not see again is gone at its end. */
void
watch_scan_begin(void)
{
	gen++;
}

/*
 * A scan ends: a bind it did not see is withdrawn, unless it was not
 * complete (a failed dump), which leaves the last state.
 */
void
watch_scan_end(int complete)
{
	struct gbind	*b, *next;

	if (!complete) {
		RB_FOREACH(b, bind_keys, &keys)
			b->gen = gen;
		return;
	}
	RB_FOREACH_SAFE(b, bind_keys, &keys, next)
		if (b->gen != gen && b->held == 0)
			watch_gone(b);
}

void
watch_scan(void)
{
	int	complete;

	watch_scan_begin();
	complete = watch_dump(AF_INET, IPPROTO_TCP, 1 << TCP_LISTEN) == 0 &&
	    watch_dump(AF_INET6, IPPROTO_TCP, 1 << TCP_LISTEN) == 0 &&
	    watch_dump_udp() == 0 && watch_dump_unix() == 0;
	nat_feed();	/* after the sockets, which win */
	watch_scan_end(complete);
}

/* At exit: everything freed, so that leak checkers see real leaks only. */
void
watch_stop(void)
{
	struct gbind	*b, *next;

	RB_FOREACH_SAFE(b, bind_ids, &ids, next) {
		RB_REMOVE(bind_keys, &keys, b);
		RB_REMOVE(bind_ids, &ids, b);
		free(b);
	}
	if (nl != NULL)
		mnl_socket_close(nl);
	nl = NULL;
}

/* Opens the sock_diag socket and scans; scan.c decides when to again. */
void
watch_start(void)
{
	nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (nl == NULL)
		fatal("cannot open a NETLINK_SOCK_DIAG socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1)
		fatal("cannot bind the NETLINK_SOCK_DIAG socket");
	watch_scan();
}
