/* porthole-host: the host agent's private header, one banner per file. */
#ifndef PH_HOST_H
#define PH_HOST_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "endpoint.h"
#include "proto.h"

struct bufferevent;
struct evconnlistener;
struct event;
struct event_base;
struct relay;

#define HOST_HELLO_TIMEOUT	5	/* seconds from accept to first frame */
#define HOST_DATA_TIMEOUT	10	/* seconds from OPEN to its DATA */
#define HOST_KEEPALIVE		10	/* seconds without a frame: gone */
#define HOST_OUTPUT_MAX		(1024 * 1024)	/* unread control output */
#define HOST_OUTPUT_HIGH	(256 * 1024)	/* stop reading the guest */
#define HOST_OUTPUT_LOW		(64 * 1024)	/* and start again */
#define HOST_ACCEPT_PAUSE_MS	250	/* accepting stops this long on EMFILE */
#define HOST_FD_RESERVE		32	/* descriptors kept for guests' streams */

/* policy.c */
enum policy_mode {		/* ordered from tightest to loosest */
	POLICY_REFUSE = 0,
	POLICY_LOOPBACK = 1,
	POLICY_ALLOW = 2
};

struct policy {
	enum policy_mode	mode;		/* as asked for */
	int			loopback_only;	/* caps mode at loopback */
};

struct bind_req {
	uint8_t			proto;
	struct ph_addr		addr;
	uint16_t		port;
	int			v6only;
};

struct bind_decision {
	uint8_t			verdict;	/* enum ph_verdict */
	int			naddr;
	struct ph_hostaddr	host[PH_HOSTADDR_MAX];
	char			reason[PH_REASON_MAX];
};

int		 policy_mode_parse(const char *, enum policy_mode *);
const char	*policy_mode_name(enum policy_mode);
enum policy_mode policy_effective(const struct policy *);
int		 policy_may_set_mode(const struct policy *, enum policy_mode,
		    char *, size_t);
int		 policy_set_mode(struct policy *, enum policy_mode, char *,
		    size_t);
void		 policy_decide(const struct policy *, const struct bind_req *,
		    struct bind_decision *);

/* limits.c */
enum limit_kind {
	LIMIT_FRAME,		/* control frame payload */
	LIMIT_FORWARDS,		/* per guest */
	LIMIT_CONNS,		/* concurrent, per guest */
	LIMIT_FORWARD_CONNS,	/* concurrent, per forward */
	LIMIT_PENDING_OPENS,	/* OPEN sent, no DATA yet, per guest */
	LIMIT_SESSIONS,		/* per endpoint */
	LIMIT_UNIDENTIFIED,	/* no first frame yet, per endpoint */
	LIMIT_NKINDS
};

void		 limits_init(uint32_t *);
void		 limits_flush(void);
int		 limits_set(uint32_t *, const char *, const char *, char *,
		    size_t);
const char	*limit_flag(enum limit_kind);
const char	*limit_what(enum limit_kind);
void		 limit_hit(enum limit_kind, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* host.c: the agent's global state */
struct guest_ep {
	TAILQ_ENTRY(guest_ep)	 entry;
	struct endpoint		 ep;
	int			 fd;
	struct event		*ev;
	struct event		*resume;	/* after running out of fds */
	int			 nsessions;
	int			 nunidentified;	/* no first frame yet */
};

struct host {
	struct event_base	*base;
	struct policy		 policy;
	TAILQ_HEAD(, guest_ep)	 endpoints;
	TAILQ_HEAD(, session)	 sessions;
	uint32_t		 limits[LIMIT_NKINDS];
	uint64_t		 limit_hits[LIMIT_NKINDS];
	int			 keepalive;	/* seconds, 0: off */
	uint64_t		 nofile;	/* RLIMIT_NOFILE, 0: unknown */
	time_t			 started;
};

extern struct host	*host;

/* listener.c: guest endpoints and the first frame on each connection */
int		 listener_open(struct guest_ep *, char *, size_t);
void		 listener_start(struct guest_ep *);
void		 listener_close(struct guest_ep *);

/* session.c: one control session per guest */
struct forward;
struct pair;
struct pooled;

struct session {
	TAILQ_ENTRY(session)	 entry;
	uint64_t		 token;		/* DATA must present it */
	struct guest_ep		*gep;		/* endpoint it came in on */
	uint32_t		 cid;		/* vsock peer CID, or 0 */
	char			 name[PH_NAME_MAX];
	char			 id[PH_NAME_MAX + 128];	/* for logs */
	char			 version[PH_NAME_MAX];
	uint8_t			 boot_id[PH_BOOTID_LEN];
	uint16_t		 proto;		/* the protocol version spoken */
	struct bufferevent	*bev;
	struct event		*end_ev;	/* ends it from the loop */
	char			 end_why[PH_REASON_MAX];
	TAILQ_HEAD(, forward)	 forwards;
	TAILQ_HEAD(, pair)	 pairs;		/* waiting or relaying */
	TAILQ_HEAD(, pooled)	 pool;		/* idle streams (pair.c) */
	int			 npool;
	int			 nforwards;
	uint32_t		 nconns;	/* waiting or relaying */
	uint32_t		 npending;	/* OPEN sent, no DATA yet */
	struct event		*keepalive;
	time_t			 last_rx;	/* last frame from the guest */
	time_t			 started;
};

void	 session_new(int, struct guest_ep *, uint32_t,
	    const struct ph_hello *);
void	 session_end(struct session *, const char *);
void	 session_fail(struct session *, const char *);
void	 session_end_all(const char *);
int	 session_send(struct session *, const struct ph_msg *);
int	 session_matches(const struct session *, const struct guest_ep *,
	    uint32_t, uint64_t);

/* forward.c: the host listeners for one guest bind */
struct forward {
	TAILQ_ENTRY(forward)	 entry;
	struct session		*s;		/* NULL once the session ended */
	uint32_t		 id;		/* the guest's id for the bind */
	struct bind_req		 req;
	char			 process[PH_NAME_MAX];
	struct bind_decision	 dec;
	struct evconnlistener	*lis[PH_HOSTADDR_MAX];
	struct event		*resume;	/* accepting after EMFILE */
	int			 refs;		/* session + each conn */
	uint64_t		 conns_active, conns_total;
	uint64_t		 bytes_in, bytes_out;
};

struct forward	*forward_find(struct session *, uint32_t);
void		 forward_expose(struct session *, const struct ph_expose *);
void		 forward_close(struct forward *, const char *);
void		 forward_pause(struct forward *, const char *);
int		 forward_redecide_all(const char *);
void		 forward_unref(struct forward *);

/* pair.c: a data stream for each connection or flow (OPEN/DATA, pool) */
struct pair_ops {
	/* The stream came (DATA): relay on it. */
	void	(*ready)(struct pair *, int);
	/* The guest sent CLOSE: its dial failed, or its side was reset. */
	void	(*closed)(struct pair *, const struct ph_close *);
	/*
	 * No stream will come (timed out, or the session ended), or the
	 * guest stopped answering: the connection cannot go on.
	 */
	void	(*failed)(struct pair *, const char *);
};

struct pair {
	RB_ENTRY(pair)		 node;
	TAILQ_ENTRY(pair)	 entry;		/* in its session's list */
	uint64_t		 id;		/* the connection id */
	struct session		*s;		/* NULL once it ended */
	const struct pair_ops	*ops;
	void			*arg;		/* the owner's */
	struct event		*timeout;	/* waiting for DATA */
};

int	 pair_open(struct pair *, struct session *, uint32_t,
	    const struct pair_ops *, void *);
void	 pair_end(struct pair *);
int	 pair_send_close(struct pair *, uint8_t, const char *);
void	 pair_data(int, const struct guest_ep *, uint32_t,
	    const struct ph_data *);
void	 pair_pool_add(int, const struct guest_ep *, uint32_t,
	    const struct ph_pool *);
void	 pair_close_msg(struct session *, const struct ph_close *);
void	 pair_session_gone(struct session *, int);

/* conn.c: one forwarded client connection */
void	 conn_accept(struct forward *, int);

#endif
