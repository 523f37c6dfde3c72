/*
 * UDP forwards on the host.  A UDP forward has one socket per host
 * address the policy gave it.  Each client (source address and port) of
 * a socket is a flow: its first datagram makes it a pair (pair.c), which
 * gets a data stream from the guest exactly as a TCP client does (a
 * pooled one, or one asked for with OPEN); its datagrams then travel on
 * that stream, framed by dgram.c, both ways.  Replies go to the client
 * from the address it sent to (IP_PKTINFO), which matters on a wildcard
 * socket.
 *
 * Limits: a flow idle for --udp-timeout seconds ends; a forward has at
 * most --udp-flows flows, and the least recently active one is evicted
 * to make room for a new client; what a flow queues for the guest,
 * including while its stream is being opened, is bounded, and a datagram
 * that does not fit is dropped and counted; so is one that does not fit
 * in its guest's budget over all its flows (--max-udp-buffer), so that
 * many flows a guest does not read hold no more than that; the guest's
 * and the forward's limits on connections (--max-*) count flows too.
 * A forward's flows end when the forward closes: their host socket is
 * gone.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "dgram.h"
#include "dgstream.h"
#include "host.h"
#include "log.h"
#include "xmalloc.h"

#define UDP_QUEUE_MAX	(256 * 1024)	/* bytes per flow towards the guest */
#define UDP_BURST	64		/* datagrams per readable event */

struct udp_sock;

struct udp_flow {
	RB_ENTRY(udp_flow)	 node;		/* its socket's, by client */
	TAILQ_ENTRY(udp_flow)	 lru;		/* its forward's LRU list */
	struct udp_sock		*us;
	struct ph_addr		 caddr;		/* the client */
	uint16_t		 cport;
	struct sockaddr_storage	 client;
	socklen_t		 clientlen;
	struct ph_addr		 local;		/* where the client sent to */
	int			 ifindex;
	struct pair		 pair;		/* its stream, its id */
	struct dgstream		*ds;
	struct event		*idle;
	struct timeval		 last;		/* last datagram either way */
	uint64_t		 dropped;	/* towards the client */
	uint64_t		 dropped_in;	/* over the guest's budget */
};

static int	udp_flow_cmp(struct udp_flow *, struct udp_flow *);
RB_HEAD(udp_flows, udp_flow);
PH_RB_PROTOTYPE(udp_flows, udp_flow, node, udp_flow_cmp);
PH_RB_GENERATE(udp_flows, udp_flow, node, udp_flow_cmp)

struct udp_sock {
	struct udp_fwd		*uf;
	int			 fd;
	struct ph_hostaddr	 bound;
	struct event		*ev;
	struct udp_flows	 flows;
};

struct udp_fwd {
	struct forward		*f;
	struct udp_sock		*sock[PH_HOSTADDR_MAX];
	int			 nsock;
	TAILQ_HEAD(, udp_flow)	 lru;
	int			 nflows;
};

/* Room for the largest datagram and one byte more, to see truncation. */
static uint8_t	scratch[PH_DGRAM_MAX + 1];

static int	udp_stream_recv_cb(struct dgstream *, const uint8_t *, size_t,
		    void *);
static void	udp_stream_end_cb(struct dgstream *, const char *, void *);
static void	udp_pair_ready_cb(struct pair *, int);
static void	udp_pair_closed_cb(struct pair *, const struct ph_close *);
static void	udp_pair_failed_cb(struct pair *, const char *);

static const struct dgstream_cbs udp_stream_cbs = {
	.recv = udp_stream_recv_cb,
	.end = udp_stream_end_cb,
};

static const struct pair_ops udp_pair_ops = {
	.ready = udp_pair_ready_cb,
	.closed = udp_pair_closed_cb,
	.failed = udp_pair_failed_cb,
};

static int
udp_flow_cmp(struct udp_flow *a, struct udp_flow *b)
{
	if (a->cport != b->cport)
		return a->cport < b->cport ? -1 : 1;
	return addr_cmp(&a->caddr, &b->caddr);
}

static const char *
udp_flow_name(const struct udp_flow *fl, char *buf, size_t len)
{
	return addr_fmt(&fl->caddr, fl->cport, buf, len);
}

/* Ends a flow, for any reason: its stream closes, the guest's side too. */
static void
udp_flow_end(struct udp_flow *fl, const char *why)
{
	struct udp_fwd		*uf = fl->us->uf;
	struct dgstream_stats	*st = dgstream_stats(fl->ds);
	char			 ca[PH_ADDRSTRLEN];

	log_debug("udp flow from %s on forward %u ended: %s; %llu datagrams "
	    "to the guest, %llu from it, %llu dropped", udp_flow_name(fl, ca,
	    sizeof ca), uf->f->id, why, (unsigned long long)st->dgrams_out,
	    (unsigned long long)st->dgrams_in,
	    (unsigned long long)(st->dropped + fl->dropped_in +
	    fl->dropped));
	uf->f->bytes_out += st->bytes_out;
	uf->f->bytes_in += st->bytes_in;
	uf->f->conns_active--;
	events_conn_bytes(uf->f, st->bytes_out, st->bytes_in);
	events_conn(HEV_CONN_CLOSED, uf->f);
	pair_end(&fl->pair);
	RB_REMOVE(udp_flows, &fl->us->flows, fl);
	TAILQ_REMOVE(&uf->lru, fl, lru);
	uf->nflows--;
	event_free(fl->idle);
	dgstream_free(fl->ds);
	free(fl);
}

/* The guest's data stream for the flow is here (DATA). */
static void
udp_pair_ready_cb(struct pair *p, int fd)
{
	struct udp_flow	*fl = p->arg;

	dgstream_attach(fl->ds, fd);
}

/* The guest could not reach the target (or its socket got an ICMP error). */
static void
udp_pair_closed_cb(struct pair *p, const struct ph_close *m)
{
	udp_flow_end(p->arg, m->how == PH_CLOSE_REFUSED ?
	    "the target refused it" : "closed by the guest");
}

static void
udp_pair_failed_cb(struct pair *p, const char *why)
{
	udp_flow_end(p->arg, why);
}

static void
udp_flow_touch(struct udp_flow *fl)
{
	struct udp_fwd	*uf = fl->us->uf;

	event_base_gettimeofday_cached(host->base, &fl->last);
	TAILQ_REMOVE(&uf->lru, fl, lru);
	TAILQ_INSERT_TAIL(&uf->lru, fl, lru);
}

/*
 * The timer runs once per timeout, not once per datagram: when it fires
 * it ends the flow only if nothing moved since, else waits out the rest.
 */
static void
udp_idle_cb(int fd, short ev, void *arg)
{
	struct udp_flow	*fl = arg;
	struct timeval	 now, since, tv = { host->udp_timeout, 0 }, left;

	(void)fd;
	(void)ev;
	event_base_gettimeofday_cached(host->base, &now);
	timersub(&now, &fl->last, &since);
	if (!timercmp(&since, &tv, <)) {
		udp_flow_end(fl, "idle");
		return;
	}
	timersub(&tv, &since, &left);
	evtimer_add(fl->idle, &left);
}

/*
 * A new client: a flow, with a stream from the guest (a pooled one at
 * once, or later).  NULL if a limit refuses it: its datagram is dropped.
 */
static struct udp_flow *
udp_flow_new(struct udp_sock *us, const struct udp_flow *key)
{
	struct udp_fwd	*uf = us->uf;
	struct forward	*f = uf->f;
	struct udp_flow	*fl, *old;
	struct timeval	 tv = { host->udp_timeout, 0 };
	char		 ca[PH_ADDRSTRLEN];
	int		 stream;

	if (uf->nflows >= host->udp_max_flows &&
	    (old = TAILQ_FIRST(&uf->lru)) != NULL)
		udp_flow_end(old, "evicted for a new client: too many flows");
	if (conn_limit_reached(f, "udp client"))
		return NULL;
	fl = xcalloc(1, sizeof *fl);
	*fl = *key;
	fl->us = us;
	fl->ds = dgstream_new(host->base, UDP_QUEUE_MAX, &udp_stream_cbs, fl);
	dgstream_account(fl->ds, &f->s->udp_queued);
	if ((fl->idle = evtimer_new(host->base, udp_idle_cb, fl)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(fl->idle, &tv);
	RB_INSERT(udp_flows, &us->flows, fl);
	TAILQ_INSERT_TAIL(&uf->lru, fl, lru);
	uf->nflows++;
	f->conns_active++;
	f->conns_total++;
	events_conn(HEV_CONN_OPENED, f);
	stream = pair_open(&fl->pair, f->s, f->id, &udp_pair_ops, fl);
	pair_handed(&fl->pair);	/* before its bufferevent: not edge-triggered */
	log_debug("udp flow from %s on forward %u: connection %016llx%s",
	    udp_flow_name(fl, ca, sizeof ca), f->id,
	    (unsigned long long)fl->pair.id, stream != -1 ? ", pooled stream" :
	    "");
	if (stream != -1)
		dgstream_attach(fl->ds, stream);
	return fl;
}

/* A datagram from the guest: to the client, from where it sent to. */
static int
udp_stream_recv_cb(struct dgstream *ds, const uint8_t *p, size_t len,
    void *arg)
{
	struct udp_flow		*fl = arg;
	struct iovec		 iov = { (void *)p, len };
	struct msghdr		 msg = { 0 };
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cm;
	struct cmsghdr		*c = &cm.hdr;
	struct in_pktinfo	*pi;
	struct in6_pktinfo	*pi6;

	(void)ds;
	memset(&cm, 0, sizeof cm);
	msg.msg_name = &fl->client;
	msg.msg_namelen = fl->clientlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	if (fl->local.family == AF_INET) {
		msg.msg_controllen = CMSG_SPACE(sizeof *pi);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof *pi);
		pi = (struct in_pktinfo *)CMSG_DATA(c);
		pi->ipi_spec_dst = fl->local.u.v4;
	} else {
		msg.msg_controllen = CMSG_SPACE(sizeof *pi6);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof *pi6);
		pi6 = (struct in6_pktinfo *)CMSG_DATA(c);
		pi6->ipi6_addr = fl->local.u.v6;
		pi6->ipi6_ifindex = (unsigned int)fl->ifindex;
	}
	udp_flow_touch(fl);
	if (sendmsg(fl->us->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		log_debug("udp: datagram of %zu bytes to a client dropped: %s",
		    len, strerror(errno));
		fl->dropped++;
	}
	return 0;
}

static void
udp_stream_end_cb(struct dgstream *ds, const char *why, void *arg)
{
	(void)ds;
	udp_flow_end(arg, why);
}

/* The client and the local address it sent to, from recvmsg(). */
static void
udp_msg_key(struct udp_sock *us, struct msghdr *msg, struct udp_flow *key)
{
	struct cmsghdr		*c;
	struct in_pktinfo	*pi;
	struct in6_pktinfo	*pi6;

	memset(key, 0, sizeof *key);
	memcpy(&key->client, msg->msg_name, msg->msg_namelen);
	key->clientlen = msg->msg_namelen;
	addr_from_sockaddr(msg->msg_name, &key->caddr, &key->cport);
	key->local = us->bound.addr;
	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			pi = (struct in_pktinfo *)CMSG_DATA(c);
			key->local.u.v4 = pi->ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			pi6 = (struct in6_pktinfo *)CMSG_DATA(c);
			key->local.u.v6 = pi6->ipi6_addr;
			key->ifindex = (int)pi6->ipi6_ifindex;
		}
	}
}

/*
 * Whether a datagram of len bytes for fl would take its guest over its
 * budget for all its flows' queues: then it is dropped, counted, and
 * the hit logged (rate-limited).
 */
static int
udp_over_budget(struct udp_flow *fl, size_t len)
{
	struct session	*s = fl->us->uf->f->s;
	uint32_t	 max = s->limits.max_udp_buffer;
	char		 line[32] = "";

	if (s->udp_queued + PH_DGRAM_HDR_LEN + len <= max)
		return 0;
	host->udp_dropped++;
	if (s->limits.udp_buffer_line != 0)
		snprintf(line, sizeof line, " (policy line %d)",
		    s->limits.udp_buffer_line);
	limit_hit_value(LIMIT_UDP_BUFFER, max, "guest %s: forward %u: "
	    "datagram dropped: %zu bytes queued for its UDP flows%s", s->id,
	    fl->us->uf->f->id, s->udp_queued, line);
	return 1;
}

/* Reads one datagram from a client; returns -1 when there is none. */
static int
udp_read_one(struct udp_sock *us)
{
	struct sockaddr_storage	 ss;
	struct iovec		 iov = { scratch, sizeof scratch };
	uint8_t			 cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct msghdr		 msg = { 0 };
	struct udp_flow		 key, *fl;
	ssize_t			 n;

	msg.msg_name = &ss;
	msg.msg_namelen = sizeof ss;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof cbuf;
	if ((n = recvmsg(us->fd, &msg, MSG_DONTWAIT)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_debug("udp: recvmsg: %s", strerror(errno));
		return -1;
	}
	if ((size_t)n > PH_DGRAM_MAX || (msg.msg_flags & MSG_TRUNC))
		return 0;	/* cannot happen: no UDP payload is longer */
	udp_msg_key(us, &msg, &key);
	if ((fl = RB_FIND(udp_flows, &us->flows, &key)) == NULL &&
	    (fl = udp_flow_new(us, &key)) == NULL)
		return 0;
	udp_flow_touch(fl);
	if (udp_over_budget(fl, (size_t)n))
		fl->dropped_in++;
	else if (dgstream_send(fl->ds, scratch, (size_t)n) == -1)
		host->udp_dropped++;
	return 0;
}

static void
udp_read_cb(int fd, short ev, void *arg)
{
	int	i;

	(void)fd;
	(void)ev;
	for (i = 0; i < UDP_BURST; i++)
		if (udp_read_one(arg) == -1)
			return;
}

/* Opens a UDP forward's socket on h: 0, or -1 with errno set. */
int
udp_listen(struct forward *f, struct ph_hostaddr *h)
{
	struct udp_fwd	*uf = f->udp;
	struct udp_sock	*us;
	int		 fd;

	if ((fd = hostsock_open(f, h, SOCK_DGRAM)) == -1)
		return -1;
	if (uf == NULL) {
		uf = f->udp = xcalloc(1, sizeof *uf);
		uf->f = f;
		TAILQ_INIT(&uf->lru);
	}
	us = uf->sock[uf->nsock++] = xcalloc(1, sizeof *us);
	us->uf = uf;
	us->fd = fd;
	us->bound = *h;
	RB_INIT(&us->flows);
	us->ev = event_new(host->base, fd, EV_READ | EV_PERSIST, udp_read_cb,
	    us);
	if (us->ev == NULL)
		fatalx("event_new");
	event_add(us->ev, NULL);
	return 0;
}

/*
 * The forward closes (or is decided again): its flows end, then its
 * sockets close.  Returns how many sockets it closed.
 */
int
udp_close(struct forward *f)
{
	struct udp_fwd	*uf = f->udp;
	struct udp_flow	*fl;
	int		 i, n;

	if (uf == NULL)
		return 0;
	while ((fl = TAILQ_FIRST(&uf->lru)) != NULL)
		udp_flow_end(fl, "forward closed");
	for (i = 0; i < uf->nsock; i++) {
		event_free(uf->sock[i]->ev);
		close(uf->sock[i]->fd);
		free(uf->sock[i]);
	}
	n = uf->nsock;
	free(uf);
	f->udp = NULL;
	return n;
}
