/* porthole-host: the host agent's private header, one banner per file. */
#ifndef PH_HOST_H
#define PH_HOST_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "addr.h"
#include "endpoint.h"
#include "proto.h"

struct bufferevent;
struct guest_ep;
struct evconnlistener;
struct policy_guest;
struct event;
struct event_base;
struct evbuffer;
struct relay;
struct relay_stats;

#define HOST_HELLO_TIMEOUT	5	/* seconds from accept to first frame */
#define HOST_DATA_TIMEOUT	10	/* seconds from OPEN to its DATA */
#define HOST_KEEPALIVE		10	/* seconds without a frame: gone */
#define HOST_OUTPUT_MAX		(1024 * 1024)	/* unread control output */
#define HOST_OUTPUT_HIGH	(256 * 1024)	/* stop reading the guest */
#define HOST_OUTPUT_LOW		(64 * 1024)	/* and start again */
#define HOST_ACCEPT_PAUSE_MS	250	/* accepting stops this long on EMFILE */
#define HOST_FD_RESERVE		32	/* descriptors kept for guests' streams */
#define HOST_RETRY_MS		1000	/* a port in use is tried this often */
#define HOST_UDP_TIMEOUT	60	/* seconds a UDP flow may be idle */
#define HOST_UDP_FLOWS		1024	/* UDP flows per forward */

/* reason.c: refusal and session-end codes, and their stable names */
enum refusal {
	REFUSAL_NONE,		/* not refused, or no code: "other" */
	REFUSAL_NOT_UNICAST,	/* a multicast or broadcast bind */
	REFUSAL_RULE,		/* a refuse rule */
	REFUSAL_POLICY,		/* mode refuse, for a wildcard bind */
	REFUSAL_PRIVILEGED_PORT, /* below ip_unprivileged_port_start */
	REFUSAL_PORT_IN_USE,	/* another forward holds the host port */
	REFUSAL_LIMIT,		/* no slot under max-forwards */
	REFUSAL_ADDRESS_IN_USE,	/* failed: another program holds it */
	REFUSAL_LISTEN_ERROR,	/* failed: any other socket error */
	REFUSAL_BAD_NAME,	/* a socket or guest name unfit for a path */
	REFUSAL_NAME_IN_USE,	/* another forward holds the socket's path */
	REFUSAL_NKINDS
};

enum end_reason {
	END_ERROR,		/* a socket error */
	END_GUEST_CLOSED,	/* EOF on the control channel */
	END_REPLACED,		/* a new session of the same guest */
	END_PROTOCOL,		/* a bad or unexpected frame */
	END_SLOW_GUEST,		/* it does not read its answers */
	END_KEEPALIVE,		/* no frame for the keepalive time */
	END_SHUTDOWN,		/* the host agent exits */
	END_NKINDS
};

const char	*reason_refusal(enum refusal);
const char	*reason_end(enum end_reason);

/* policy.c */
enum policy_mode {		/* ordered from tightest to loosest */
	POLICY_REFUSE = 0,
	POLICY_LOOPBACK = 1,
	POLICY_ALLOW = 2
};

struct policy_limits {
	unsigned int		max_forwards;	/* per guest; 0: no limit */
	unsigned int		max_conns;	/* per guest, at once; 0: none */
	unsigned int		max_udp_buffer;	/* bytes, its UDP queues */
	int			forwards_line;	/* the file's line, or 0 */
	int			conns_line;
	int			udp_buffer_line;
};

struct policy {
	enum policy_mode	mode;		/* as asked for */
	int			loopback_only;	/* caps mode at loopback */
	struct policy_file	*file;		/* the rules; NULL: none */
	int			unpriv_port_start; /* privport.c; 0: none */
	int			bind_cap;	/* CAP_NET_BIND_SERVICE */
};

struct bind_req {
	uint8_t			proto;
	struct ph_addr		addr;
	uint16_t		port;
	int			v6only;
	/* The guest, for its guest blocks; NULL/0: global rules only. */
	const char		*guest_name;	/* from HELLO */
	const char		*guest_ep;	/* the endpoint it came in on */
	uint32_t		guest_cid;	/* vsock CID, or 0 */
	char			sock_name[PH_SOCKNAME_MAX]; /* PH_KIND_UNIX */
};

struct bind_decision {
	uint8_t			verdict;	/* enum ph_verdict */
	int			naddr;
	struct ph_hostaddr	host[PH_HOSTADDR_MAX];
	int			port_auto;	/* another port if that is taken */
	int			rule_line;	/* the rule that matched, or 0 */
	char			reason[PH_REASON_MAX];	/* the guest sees it */
	enum refusal		 code;		/* refused, failed: why */
	/* The other guest holding the port: for the host's eyes only. */
	char			held_by[PH_NAME_MAX];
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
void		 policy_any_port(struct bind_decision *);
int		 policy_guest_match(const struct policy_guest *, const char *,
		    const char *, uint32_t);

/* policy_parse.c: the policy file, porthole-policy(5), and its printing */
#define POLICY_FILE_MAX		(1024 * 1024)	/* bytes */
#define POLICY_LINE_MAX		1024		/* bytes */
#define POLICY_WORDS_MAX	32		/* on one line */
#define POLICY_RULES_MAX	32768	/* bounded by the file size too */
#define POLICY_GUESTS_MAX	256		/* guest blocks */
#define POLICY_PORTS_MAX	16		/* items in a port list */
#define POLICY_LIMIT_MAX	1000000		/* max-forwards and the like */
#define POLICY_UDP_BUFFER_MAX	1073741824	/* max-udp-buffer, bytes */
#define POLICY_ERRORS_MAX	20		/* reported before giving up */
/* The text of their errors, a line each */
#define POLICY_ERRS_LEN		(POLICY_ERRORS_MAX * 700)
#define POLICY_TEXT_MAX		320		/* a rule, as reasons quote it */
#define POLICY_KEY_PATH_MAX	256		/* key FILE, with its NUL */
#define POLICY_REACHES_MAX	256		/* reach lines */

enum policy_action {
	ACTION_ALLOW,		/* the address the guest bound */
	ACTION_LOOPBACK,	/* host loopback */
	ACTION_REFUSE,
	ACTION_REMAP		/* the address as the mode says; another port */
};

enum policy_from {
	FROM_ANY,		/* no from: every guest address */
	FROM_NET,		/* an address or a CIDR */
	FROM_WILDCARD,		/* 0.0.0.0 or :: */
	FROM_LOOPBACK		/* 127.0.0.0/8 or ::1 */
};

enum policy_to {
	TO_SAME,		/* the guest's port */
	TO_PORT,		/* to_port + (port - ports[0].lo) */
	TO_AUTO			/* the guest's port, or any free one */
};

enum policy_guest_kind {
	GUEST_NAME,		/* a glob on the name from HELLO */
	GUEST_CID,		/* a vsock CID */
	GUEST_ENDPOINT		/* the endpoint the guest came in on */
};

struct port_range {
	uint16_t		lo, hi;
};

struct policy_guest {
	int			 line;
	enum policy_guest_kind	 kind;
	uint32_t		 cid;
	char			 pattern[128];	/* a name glob or endpoint */
	struct policy_limits	 limits;	/* 0: the file's */
	int			 key_line;	/* 0: no key line */
	char			 key_path[POLICY_KEY_PATH_MAX];
	uint8_t			 key[32];	/* read by policy_file.c */
};

struct policy_rule {
	int			 line;
	int			 guest;		/* index in guests, or -1 */
	enum policy_action	 action;
	uint8_t			 proto;		/* IPPROTO_*, or 0 for any */
	int			 nports;
	struct port_range	 ports[POLICY_PORTS_MAX];
	char			 sock_pattern[PH_SOCKNAME_MAX]; /* unix */
	enum policy_from	 from;
	struct ph_addr		 net;		/* FROM_NET */
	int			 prefix;	/* FROM_NET, in bits */
	enum policy_to		 to;
	uint16_t		 to_port;	/* TO_PORT */
	char			 text[POLICY_TEXT_MAX];	/* canonical */
};

/*
 * A reverse entry (v6): a host destination a guest may reach, and where
 * the guest listens for it.  From -R (every guest) or a policy "reach"
 * line (every guest, or a guest block's).  The destination never leaves
 * the host; the guest knows the id and its own side only.
 */
#define REACH_TEXT_MAX		256	/* "reach DEST as SIDE" */

struct reach_entry {
	uint32_t		 id;		/* stable over reloads */
	int			 line;		/* in the policy file; 0: -R */
	int			 guest;		/* guest block, or -1: all */
	uint8_t			 dest_kind;	/* IPPROTO_TCP, PH_KIND_UNIX */
	struct ph_addr		 dest_addr;
	uint16_t		 dest_port;
	char			 dest_path[PH_SOCKPATH_MAX];
	struct ph_reach_entry	 side;		/* the guest's (id unset) */
	char			 dest_text[PH_SOCKPATH_MAX + 8];
	char			 text[REACH_TEXT_MAX];	/* DEST as SIDE */
	uint64_t		 conns_active, conns_total, dial_failed;
	uint64_t		 bytes_in, bytes_out;	/* from, to the guest */
};

struct policy_file {
	char			*path;
	int			 mode_line;	/* 0: no mode line */
	enum policy_mode	 mode;		/* loopback without one */
	int			 lock_line;	/* 0: no lock line */
	int			 locked;	/* lock, in a safe file */
	char			 lock_why[160];	/* why lock is not honoured */
	struct policy_limits	 limits;
	int			 nrules;
	int			 nguests;
	struct policy_rule	*rules;
	struct policy_guest	*guests;
	struct policy_index	*index;		/* policy_index.c; NULL: none */
	int			 nreaches;
	struct reach_entry	*reaches;	/* reach lines, in order */
};

struct policy_file *policy_parse(const char *, const char *, size_t, char *,
		    size_t);
void		 policy_print(FILE *, const struct policy_file *);
void		 policy_file_free(struct policy_file *);

/* policy_index.c: the rules by port, for first-match without a scan */
#define POLICY_INDEX_SPAN	64	/* a rule over more ports is wide */

struct policy_candidates {
	const int		*port;		/* rule numbers, ascending */
	int			 nport;
	const int		*wide;		/* the same, of wide rules */
	int			 nwide;
};

void		 policy_index_build(struct policy_file *);
void		 policy_index_free(struct policy_file *);
int		 policy_index_lookup(const struct policy_file *, uint16_t,
		    struct policy_candidates *);

/* policy_file.c: the file on disk, its lock, reloading, guest limits */
struct policy_file *policy_load(const char *, char *, size_t);
void		 policy_install(struct policy *, struct policy_file *, int,
		    char *, size_t);
const uint8_t	*policy_guest_key(const struct policy_file *, const char *,
		    const char *, uint32_t);
void		 policy_guest_limits(const struct policy_file *, const char *,
		    const char *, uint32_t, struct policy_limits *);
void		 policy_log_loaded(const struct policy_file *, const char *);
int		 policy_apply(const char *, int, const char *);
void		 policy_reload(void);

/* privport.c: host ports below net.ipv4.ip_unprivileged_port_start */
void		 privport_init(struct policy *);
int		 privport_reload(struct policy *, char *, size_t);

/* limits.c */
enum limit_kind {
	LIMIT_FRAME,		/* control frame payload */
	LIMIT_FORWARDS,		/* listening at once, per guest */
	LIMIT_BINDS,		/* held, listening or not, per guest */
	LIMIT_CONNS,		/* concurrent, per guest */
	LIMIT_FORWARD_CONNS,	/* concurrent, per forward */
	LIMIT_PENDING_OPENS,	/* OPEN sent, no DATA yet, per guest */
	LIMIT_SESSIONS,		/* per endpoint: guests on it */
	LIMIT_UNIDENTIFIED,	/* no first frame yet, per guest (peer) */
	LIMIT_UNIDENTIFIED_ALL,	/* the same, over every guest */
	LIMIT_UDP_BUFFER,	/* bytes queued for its UDP flows, per guest */
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
void		 limit_hit_value(enum limit_kind, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Warnings a guest's input triggers, each logged (and so an API error
 * event) at most LIMIT_WARN_BURST times a second per guest and kind; the
 * rest are counted, and a line says how many once the second is over.
 */
#define LIMIT_WARN_BURST	5
enum warn_kind {
	WARN_FIRST_FRAME,	/* a bad or missing first frame */
	WARN_VERSION,		/* no protocol version in common */
	WARN_EXPOSE,		/* an EXPOSE that could not be carried out */
	WARN_NO_STREAM,		/* no data stream for a connection in time */
	WARN_STRAY_STREAM,	/* DATA or POOL nobody asked for */
	WARN_GUEST_ERROR,	/* an ERROR the guest reports */
	WARN_AUTH,		/* a connection that may not speak for a guest */
	WARN_REACH,		/* a reverse stream to no entry of its list */
	WARN_REACH_CONN,	/* a reverse connection (info, not a warning) */
	WARN_NKINDS
};

void		 limit_warn(const struct guest_ep *, uint32_t, enum warn_kind,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 limits_warn_flush_all(void);

/* gate.c: who may speak for a guest */
enum gate_refusal {
	GATE_LOCAL_CID,		/* vsock CID 0-2 without --local-peers */
	GATE_SOURCE_PORT,	/* vsock source port above 1023 */
	GATE_OLD_VERSION,	/* must prove a key, cannot (protocol < 3) */
	GATE_NO_PROOF,		/* no AUTH after the challenge */
	GATE_BAD_PROOF,		/* an AUTH that proves no key */
	GATE_HELD,		/* no proof, and a proven session holds it */
	GATE_NKINDS
};

struct gate_auth {		/* a challenge, then a proven session */
	uint16_t		 version;
	uint64_t		 token;
	uint8_t			 nonce[PH_NONCE_LEN];
};

struct sockaddr_vm;
const char	*gate_name(enum gate_refusal);
void		 gate_refused(const struct guest_ep *, uint32_t,
		    enum gate_refusal, const char *);
int		 gate_vsock_peer(const struct guest_ep *,
		    const struct sockaddr_vm *);
const uint8_t	*gate_key(const struct guest_ep *, uint32_t,
		    const struct ph_hello *);
void		 gate_say_error(int, uint32_t, const char *);
int		 gate_challenge(int, const struct guest_ep *, uint32_t,
		    const struct ph_hello *, struct gate_auth *);
int		 gate_verify(const struct guest_ep *, uint32_t,
		    const uint8_t *, const struct gate_auth *,
		    const struct ph_auth *, int);

/* reach.c: reverse entries, as -R and reach lines give them (v6) */
#define REACH_CLI_MAX		PH_REACH_MAX	/* -R flags */
enum reach_refusal {		/* a reverse stream closed at once */
	REACH_REFUSE_SESSION,	/* no session, or its token is wrong */
	REACH_REFUSE_VERSION,	/* a session older than protocol 6 */
	REACH_REFUSE_ENTRY,	/* an id not on the guest's current list */
	REACH_REFUSE_LIMIT,	/* over the guest's connection budget */
	REACH_REFUSE_NKINDS
};

struct session;
void		 reach_add_cli(const char *);
void		 reach_adopt_ids(struct policy_file *, struct policy_file *);
int		 reach_list(const struct session *, const struct reach_entry **,
		    int);
struct reach_entry *reach_lookup(const struct session *, uint32_t);
struct reach_entry *reach_find_id(uint32_t);
void		 reach_foreach(void (*)(const struct reach_entry *, void *),
		    void *);
void		 reach_send(struct session *);
void		 reach_send_all(void);
const char	*reach_refusal_name(enum reach_refusal);

/* reach_parse.c: an entry's text, DEST and SIDE (fuzzed with the policy) */
int		 reach_parse(const char *, const char *, struct reach_entry *,
		    char *, size_t);
void		 reach_side_text(const struct ph_reach_entry *, char *, size_t);

/* reach_conn.c: reverse streams, each dialled and relayed (v6) */
#define HOST_REACH_DIAL_TIMEOUT	10	/* seconds to reach a destination */
void		 reach_stream(int, const struct guest_ep *, uint32_t,
		    const struct ph_reverse *);
void		 reach_session_gone(struct session *);
void		 reach_stop(void);
void		 reach_foreach_relay(void (*)(const struct reach_entry *,
		    const struct relay_stats *, void *), void *);

/* host.c: the agent's global state */
struct guest_ep {
	TAILQ_ENTRY(guest_ep)	 entry;
	struct endpoint		 ep;
	int			 fd;
	struct event		*ev;
	struct event		*resume;	/* after running out of fds */
	int			 nsessions;
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
	uint64_t		 npending;	/* every session's, added */
	int			 nwaiting;	/* forwards waiting for a port */
	struct event		*retry_ev;	/* tries them again */
	time_t			 started;
	int			 udp_timeout;	/* --udp-timeout, seconds */
	int			 udp_max_flows;	/* --udp-flows, per forward */
	uint64_t		 udp_dropped;	/* datagrams to guests dropped */
	uint64_t		 streams_returned; /* to a pool after a clean end */
	uint64_t		 streams_pooled;   /* idle in pools now */
	uint64_t		 gate_refused[GATE_NKINDS];
	int			 local_peers;	/* --local-peers */
	int			 any_source_port; /* --any-source-port */
	int			 has_key;	/* -K */
	uint8_t			 key[32];
	char			 sockdir[PH_SOCKPATH_MAX]; /* "": none */
	struct reach_entry	*reach_cli;	/* -R */
	int			 nreach_cli;
	uint32_t		 reach_seq;	/* the last entry id given */
	uint64_t		 reach_refused[REACH_REFUSE_NKINDS];
};

extern struct host	*host;

/* listener.c: guest endpoints and the first frame on each connection */
int		 listener_open(struct guest_ep *, char *, size_t);
void		 listener_start(struct guest_ep *);
void		 listener_close(struct guest_ep *);
int		 listener_peer_admit(const struct guest_ep *, uint32_t);
void		 listener_peer_release(const struct guest_ep *, uint32_t);

/* session.c: one control session per guest */
struct forward;
struct pair;
struct pooled;

RB_HEAD(forward_ids, forward);		/* a session's forwards by id */

struct session {
	TAILQ_ENTRY(session)	 entry;
	RB_ENTRY(session)	 node;		/* by guest: endpoint, CID */
	uint64_t		 seq;		/* its place in host->sessions */
	uint64_t		 forward_seq;	/* the last forward's seq */
	uint64_t		 token;		/* DATA must present it */
	struct guest_ep		*gep;		/* endpoint it came in on */
	uint32_t		 cid;		/* vsock peer CID, or 0 */
	char			 name[PH_NAME_MAX];
	char			 id[PH_NAME_MAX + 128];	/* for logs */
	char			 version[PH_NAME_MAX];
	uint8_t			 boot_id[PH_BOOTID_LEN];
	uint16_t		 proto;		/* the protocol version spoken */
	int			 proven;	/* it proved a key (gate.c) */
	struct bufferevent	*bev;
	struct event		*end_ev;	/* ends it from the loop */
	enum end_reason		 end;
	char			 end_why[PH_REASON_MAX];
	TAILQ_HEAD(, forward)	 forwards;
	struct forward_ids	 forward_ids;
	int			 nlistening;	/* forwards in hostports.c */
	TAILQ_HEAD(, pair)	 pairs;		/* waiting or relaying */
	TAILQ_HEAD(, pooled)	 pool;		/* idle streams (pair.c) */
	TAILQ_HEAD(, pair)	 returning;	/* ended, awaiting RELEASE */
	int			 npool;
	int			 nforwards;
	uint32_t		 nconns;	/* waiting or relaying */
	uint32_t		 npending;	/* OPEN sent, no DATA yet */
	uint32_t		 nreverse;	/* reverse streams (reach_conn.c) */
	size_t			 udp_queued;	/* by its UDP flows (udp.c) */
	struct event		*keepalive;
	time_t			 last_rx;	/* last frame from the guest */
	struct policy_limits	 limits;	/* max-forwards and the like */
	time_t			 started;
};

void	 session_new(int, struct guest_ep *, uint32_t,
	    const struct ph_hello *, const struct gate_auth *);
void	 session_welcome(struct ph_msg *, uint16_t, uint64_t);
void	 session_end_all(const char *);
void	 session_set_limits(struct session *);
int	 session_send(struct session *, const struct ph_msg *);
int	 session_matches(const struct session *, const struct guest_ep *,
	    uint32_t, uint64_t);
struct session *session_find(const struct guest_ep *, uint32_t);

/* hostports.c: who listens on which host port, for admission */
struct hostport {
	RB_ENTRY(hostport)	 node;
	struct forward		*f;
	uint8_t			 proto;
	uint16_t		 port;
	uint64_t		 sseq, fseq;	/* the order of a walk */
	int			 i;		/* in f->dec.host */
};

/* forward.c: the host listeners for one guest bind */
struct forward {
	TAILQ_ENTRY(forward)	 entry;
	RB_ENTRY(forward)	 by_id;		/* in s->forward_ids */
	uint64_t		 seq;		/* its place in s->forwards */
	int			 indexed;	/* in hostports.c */
	int			 nhp;
	struct hostport		 hp[PH_HOSTADDR_MAX];
	struct session		*s;		/* NULL once the session ended */
	uint32_t		 id;		/* the guest's id for the bind */
	struct bind_req		 req;		/* guest_* point into s */
	char			 process[PH_NAME_MAX];
	struct bind_decision	 want;		/* the policy's decision */
	struct bind_decision	 dec;		/* as carried out and reported */
	char			 note[PH_REASON_MAX];	/* how it was carried out */
	int			 waiting;	/* for a port or a slot */
	struct evconnlistener	*lis[PH_HOSTADDR_MAX];
	struct event		*resume;	/* accepting after EMFILE */
	struct udp_fwd		*udp;		/* a UDP forward's sockets */
	int			 refs;		/* session + each conn */
	uint64_t		 conns_active, conns_total;
	uint64_t		 bytes_in, bytes_out;
	/* PH_KIND_UNIX: the guest's path (shown), the host's (listening) */
	char			 guest_path[PH_SOCKPATH_MAX];
	char			 host_path[PH_SOCKPATH_MAX];
};

struct forward	*forward_find(struct session *, uint32_t);
enum refusal	 forward_start(struct session *, struct forward *);
int		 forward_open(struct forward *, int, struct ph_hostaddr *);
void		 forward_expose(struct session *, const struct ph_expose *);
void		 forward_close(struct forward *, const char *);
void		 forward_pause(struct forward *, const char *);
int		 forward_redecide_all(const char *);
int		 forward_retry(struct forward *);
void		 forward_unref(struct forward *);

/* hostports.c, continued */
void		 hostports_add(struct forward *);
void		 hostports_remove(struct forward *);
struct forward	*hostports_find(const struct forward *, uint16_t,
		    int (*)(const struct forward *, const struct ph_hostaddr *,
		    const void *), const void *);

/* sockdir.c: where guests' Unix sockets go on the host */
int		 sockdir_configure(const char *, char *, size_t);
int		 sockdir_path(const char *, const char *, char *, size_t,
		    char *, size_t);
void		 sockdir_guest_gone(const char *);
int		 sockdir_claim(const char *, const char *, uint32_t, char *,
		    size_t);
void		 sockdir_free(void);

/* usock.c: a guest Unix socket's host socket (protocol 5) */
enum refusal	 usock_admit(struct forward *, int);
int		 usock_listen(struct forward *);
void		 usock_unlisten(struct forward *);

/* hostsock.c: a forward's host socket, TCP or UDP */
int		 hostsock_open(const struct forward *, struct ph_hostaddr *,
		    int);

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
	/* Protocol 4: the guest's SHUT, its bytes' count (relay_peer_shut). */
	void	(*shut)(struct pair *, uint64_t);
	/* The control channel is gone while relaying (relay_unshare). */
	void	(*unshared)(struct pair *);
};

struct pair {
	RB_ENTRY(pair)		 node;
	TAILQ_ENTRY(pair)	 entry;		/* in its session's list */
	uint64_t		 id;		/* the connection id */
	struct session		*s;		/* NULL once it ended */
	const struct pair_ops	*ops;
	void			*arg;		/* the owner's */
	struct event		*timeout;	/* waiting for DATA */
	int			 released;	/* the guest's RELEASE came */
	uint64_t		 release_id;	/* its pooled stream id */
	int			 fd;		/* returning: the stream */
	struct event		*ev;		/* returning: readable, or late */
	struct pooled		*handing;	/* its pooled stream, watched */
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
int	 pair_reuses(const struct pair *);
int	 pair_send_shut(struct pair *, uint64_t);
void	 pair_shut_msg(struct session *, const struct ph_shut *);
void	 pair_release_msg(struct session *, const struct ph_release *);
void	 pair_return(struct pair *, int, struct event *);
void	 pair_handed(struct pair *);
void	 pair_session_gone(struct session *, int);
/* admit.c: what may change a verdict after policy_decide, in one step */
enum refusal	 admit_forward(struct forward *, int);
int		 admit_over_limit(const struct forward *, int, char *, size_t);
int		 admit_keeps(const struct forward *,
		    const struct bind_decision *);
int		 admit_listening(const struct bind_decision *);
int		 admit_same_hosts(const struct bind_decision *,
		    const struct bind_decision *);
void		 admit_unwait(struct forward *);
void		 admit_freed(void);
void		 admit_wait(struct forward *);
int		 admit_port_taken(const struct forward *, uint16_t);

/* conn.c: one forwarded client connection */
void	 conn_accept(struct forward *, int);
int	 conn_limit_reached(struct forward *, const char *);
void	 conn_foreach_relay(void (*)(const struct forward *,
	    const struct relay_stats *, void *), void *);

/* events.c: what happens, for the API's event stream and the metrics */
enum hevent_type {
	HEV_GUEST_CONNECTED,
	HEV_GUEST_GONE,		/* reason */
	HEV_FORWARD,		/* decided: f->dec */
	HEV_FORWARD_REDECIDED,	/* decided again after a policy change */
	HEV_FORWARD_CLOSED,	/* reason */
	HEV_CONN_OPENED,	/* a TCP connection or a UDP flow */
	HEV_CONN_BYTES,		/* it ended: bytes_out, bytes_in */
	HEV_CONN_CLOSED,
	HEV_POLICY,		/* reason: who changed it */
	HEV_ERROR		/* reason: a warning the agent logged */
};

struct hevent {
	enum hevent_type	 type;
	uint64_t		 seq;
	struct timespec		 time;
	const struct session	*s;
	const struct forward	*f;
	const char		*reason;
	enum end_reason		 end;		/* HEV_GUEST_GONE */
	uint64_t		 bytes_out;	/* to the guest */
	uint64_t		 bytes_in;	/* from the guest */
};

typedef void	(*events_cb)(const struct hevent *, void *);
struct events_sub;

void		 events_init(void);
struct events_sub *events_subscribe(events_cb, void *);
void		 events_unsubscribe(struct events_sub *);
uint64_t	 events_last_seq(void);
void		 events_guest(enum hevent_type, const struct session *,
		    enum end_reason, const char *);
void		 events_forward(enum hevent_type, const struct forward *,
		    const char *);
void		 events_conn(enum hevent_type, const struct forward *);
void		 events_conn_bytes(const struct forward *, uint64_t,
		    uint64_t);
void		 events_policy(const char *);
const char	*events_name(const struct hevent *);

/* metrics.c: GET /metrics, in the Prometheus text format */
void		 metrics_init(void);
void		 metrics_render(struct evbuffer *);
void		 metrics_conns(uint64_t *, uint64_t *);

/* api.c: the local HTTP API on a Unix socket (evhttp) */
#define API_BODY_MAX		4096	/* a request body we parse */
#define API_BODY_HARD_MAX	65536	/* evhttp reads no more than this */
#define API_HEADERS_MAX		8192
#define API_TIMEOUT		10	/* seconds, to read or write */
struct evhttp_request;
struct json_t;

int		 api_configure(const char *, char *, size_t);
int		 api_open(char *, size_t);
void		 api_print_config(void);
void		 api_start(void);
void		 api_close(void);
const char	*api_endpoint(void);
void		 api_reply_error(struct evhttp_request *, int, const char *,
		    ...) __attribute__((format(printf, 3, 4)));

/* api_stream.c: GET /v1/events, JSON lines, one per event */
#define API_STREAM_CLIENTS	32
#define API_STREAM_QUEUE_MAX	(64 * 1024)	/* unsent bytes per client */

void		 api_stream_start(struct evhttp_request *);
void		 api_stream_close_all(void);
int		 api_stream_clients(void);
uint64_t	 api_stream_dropped(void);

/* api_json.c: the agent's state as JSON */
struct json_t	*api_json_status(void);
struct json_t	*api_json_guests(void);
struct json_t	*api_json_forwards(void);
struct json_t	*api_json_policy(void);
struct json_t	*api_json_event(const struct hevent *);
struct json_t	*api_json_time(const struct timespec *);
struct json_t	*api_json_text(const char *);

/* api_reach.c: GET /v1/reaches */
struct json_t	*api_json_reaches(void);

/* api_body.c: request bodies (fuzzed: tests/fuzz/fuzz_api_body.c) */
int		 api_body_policy(const char *, size_t, enum policy_mode *,
		    char *, size_t);

/* udp.c: UDP forwards, their sockets and their flows */
int	 udp_listen(struct forward *, struct ph_hostaddr *);
int	 udp_close(struct forward *);

#endif
