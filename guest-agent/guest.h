/* porthole-guest: the guest agent's private header, one banner per file. */
#ifndef PH_GUEST_H
#define PH_GUEST_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <stdint.h>

#include "addr.h"
#include "auth.h"
#include "endpoint.h"
#include "proto.h"

struct event;
struct event_base;

#define GUEST_CONNECT_TIMEOUT	5	/* seconds, host and target */
#define GUEST_WELCOME_TIMEOUT	5
#define GUEST_BACKOFF_MIN_MS	100
#define GUEST_BACKOFF_MAX_MS	2000
#define GUEST_SCAN_MS		2000	/* the poll under the triggers */
#define GUEST_SCAN_MAX_MS	3600000
#define GUEST_KEEPALIVE		10	/* seconds without a frame: reconnect */
#define GUEST_MAX_IGNORE	64
#define GUEST_POOL_DEFAULT	8	/* data streams opened in advance */
/* What the host may make the guest do (gsession.c, dial.c) */
#define GUEST_CTL_QUEUE_MAX	(4 << 20)	/* bytes unsent to the host */
#define GUEST_DIALS_MAX		256	/* targets being dialled at once */
/* forwarded connections open: the host's default --max-connections, so
 * that a user meets the host's own limit (which -n shows) first */
#define GUEST_CONNS_MAX		16384
/* reverse clients at once (reach.c): any VM process may connect, and on
 * vsock each costs a stream from a reserved port, of about 1000 in all */
#define GUEST_REACH_CONNS_MAX	256

#define GUEST_MAX_USOCK		16	/* -x sockets */

/* guest.c: the agent's global state */
struct usock_conf {		/* usock.c */
	char		path[PH_SOCKPATH_MAX];	/* rootless: after the UID */
	char		name[PH_SOCKNAME_MAX];	/* rootless: before "-UID" */
	int		rootless;	/* under /run/user/UID/ */
};

struct ignore {
	uint16_t	port;
	uint8_t		proto;		/* 0: both */
};

struct guest {
	struct event_base	*base;
	struct endpoint		 ep;
	char			 name[PH_NAME_MAX];
	uint8_t			 boot_id[PH_BOOTID_LEN];
	struct ignore		 ignore[GUEST_MAX_IGNORE];
	int			 nignore;
	int			 keepalive;	/* seconds, 0: off */
	int			 pool;		/* streams to keep open */
	const char		*trigger;	/* of bind scans (scan.c) */
	int			 scan_ms;	/* slow poll; 0: default */
	int			 has_key;	/* -K: proved when asked */
	uint8_t			 key[PH_KEY_LEN];
	struct usock_conf	 usock[GUEST_MAX_USOCK];	/* -x */
	int			 nusock;
	int			 usock_defaults;	/* no -x none */
	char			 reach_dir[PH_SOCKPATH_MAX];	/* -R */
};

extern struct guest	*guest;

/* watch.c: the VM's listening sockets, from NETLINK_SOCK_DIAG */
struct nlmsghdr;
struct gbind {
	RB_ENTRY(gbind)		 by_key;
	RB_ENTRY(gbind)		 by_id;
	uint32_t		 id;
	uint8_t			 proto;		/* or PH_KIND_UNIX */
	struct ph_addr		 addr;
	uint16_t		 port;
	int			 v6only;
	char			 path[PH_SOCKPATH_MAX];	/* PH_KIND_UNIX */
	char			 name[PH_SOCKNAME_MAX];	/* PH_KIND_UNIX */
	char			 process[PH_NAME_MAX];
	unsigned int		 gen;		/* last scan that saw it */
	int			 held;		/* proxies that asked (pxsock.c) */
	/* a port a DNAT rule publishes (nat.c): dialled at its destination */
	int			 nat;
	struct ph_addr		 to;
	uint16_t		 to_port;
	/* the host's answer, once it came */
	uint8_t			 verdict;	/* 0 until EXPOSED */
	struct ph_exposed	 reply;
};

void		 watch_start(void);
void		 watch_stop(void);
void		 watch_scan(void);
void		 watch_scan_begin(void);
void		 watch_seen(const struct gbind *, uint64_t);
struct natbind;
void		 watch_seen_nat(const struct natbind *);
void		 watch_scan_end(int);
int		 watch_ignored(const struct ignore *, int, uint8_t, uint16_t);
int		 watch_decode(const struct nlmsghdr *, uint8_t, struct gbind *,
		    uint64_t *);
struct gbind	*watch_find(uint32_t);
void		 watch_foreach(void (*)(struct gbind *, void *), void *);
void		 watch_target(const struct gbind *, struct ph_addr *,
		    uint16_t *);
struct gbind	*watch_hold(const struct gbind *, const char *);
void		 watch_release(uint32_t);

/* uwatch.c: the VM's listening Unix sockets, from sock_diag */
void		 uwatch_request(struct nlmsghdr *);
int		 uwatch_decode(const struct nlmsghdr *, struct gbind *,
		    uint64_t *);

/* usock.c: which Unix sockets are forwarded (-x), and their names */
int		 usock_add(const char *, const char **);
int		 usock_match(const char *, char *, size_t);
int		 usock_enabled(void);
int		 usock_user(const char *, uid_t *);

/* scan.c: when to scan for binds (events, bursts, a slow poll) */
void		 scan_start(void);
void		 scan_stop(void);
void		 scan_kick(void);
int		 scan_trigger_ok(const char *);
long		 scan_next_ms(const int *, int, int *, long, int);
double		 scan_refill(double, long);
long		 scan_wait_ms(double);

/* listenev.c: the "listen" trigger (BPF on inet_sock_set_state) */
int		 listenev_start(void);
void		 listenev_stop(void);

/* btf.c: offsets of kernel struct members, from the kernel's BTF */
struct btf_query {
	const char	*sname, *mname;		/* struct, member; or function */
	uint32_t	 off;			/* bytes; or type id */
	int		 found;
};

int		 btf_lookup(struct btf_query *, size_t);
void		 btf_release(void);

/* unixev.c: the listen trigger's Unix half (BPF fexit on unix_listen) */
int		 unixev_start(int);
void		 unixev_stop(void);

/* execev.c: the "exec" trigger (the proc connector) */
int		 execev_start(void);
void		 execev_stop(void);

/* proc.c: which process owns a socket */
typedef int	(*proc_ask_fn)(uint64_t, int *, char *, size_t);
int		 proc_is_own_socket(uint64_t);
void		 proc_socket_owner(uint64_t, char *, size_t);
void		 proc_set_worker(pid_t);
void		 proc_set_ask(proc_ask_fn);

/* natrule.c: what one nf_tables rule does to a destination port */
enum natrule_verdict {
	NATRULE_NONE = 0,	/* nothing a published port needs */
	NATRULE_DNAT,
	NATRULE_JUMP,
	NATRULE_GOTO
};

struct natrule {
	uint8_t		 proto;		/* IPPROTO_TCP/UDP; 0: any */
	uint16_t	 dport;		/* 0: any */
	int		 verdict;
	char		*chain;		/* JUMP, GOTO: where to */
	struct ph_addr	 to;		/* DNAT: the destination */
	uint16_t	 to_port;	/* DNAT; 0: the packet's port */
};

struct nftnl_rule;
void		 natrule_parse(const struct nftnl_rule *, uint8_t,
		    struct natrule *);
void		 natrule_clear(struct natrule *);

/* natwalk.c: the ports the nat chains publish, through their jumps */
#define NAT_MAX		4096	/* published ports seen */
#define NAT_DEPTH	16	/* jumps followed */

struct natchain {
	uint8_t		 family;	/* NFPROTO_* */
	char		*table, *name;
	int		 base;		/* nat, on prerouting or output */
	struct natrule	*rules;
	size_t		 nrules;
};

/* A published port; of one fixed size, since privsep.c passes it. */
struct natbind {
	uint8_t		 proto;
	uint16_t	 port;
	uint16_t	 to_port;
	struct ph_addr	 to;
	char		 name[PH_NAME_MAX];	/* NUL-terminated */
};

void		 natwalk_sort(struct natchain *, size_t);
struct natchain	*natwalk_find(struct natchain *, size_t, uint8_t, const char *,
		    const char *);
const char	*natwalk_engine(const char *);
size_t		 natwalk(struct natchain *, size_t, struct natbind *, size_t);
void		 natwalk_free(struct natchain *, size_t);
const char	*nat_check(const struct natbind *);

/* natdump.c: the nf_tables rule set, over netlink (CAP_NET_ADMIN) */
int		 natdump(struct natbind *, size_t, size_t *);
int		 natdump_subscribe(void);
int		 natdump_changed(int, size_t *);

/* nat.c: ports published by DNAT rules, binds of the bind table */
typedef int	(*nat_dump_fn)(struct natbind *, size_t, size_t *);
typedef int	(*nat_subscribe_fn)(void);
void		 nat_set_source(nat_dump_fn, nat_subscribe_fn);
void		 nat_start(void);
void		 nat_stop(void);
void		 nat_feed(void);
void		 nat_poll(void);

/* gsession.c: the control channel to the host agent */
void		 gsession_start(void);
void		 gsession_stop(void);
void		 gsession_expose(const struct gbind *);
void		 gsession_unexpose(const struct gbind *);
int		 gsession_send(const struct ph_msg *);
int		 gsession_established(void);
int		 gsession_reuses(void);
uint64_t	 gsession_token(void);

/* gstream.c: data streams to the host (the pool, or one per OPEN) */
struct gstream;
typedef void	(*gstream_cb)(int, const char *, void *);

struct gstream	*gstream_connect(uint64_t, gstream_cb, void *);
struct gstream	*gstream_reverse(uint32_t, gstream_cb, void *);
void		 gstream_cancel(struct gstream *);
int		 gstream_take(uint64_t);
void		 gstream_handed(void);
void		 gstream_linger(int);
void		 gstream_stop(void);
uint64_t	 gstream_release(int, struct event *);
void		 gstream_back(void);
void		 gstream_pool_start(int, int);
void		 gstream_pool_stop(void);

/* reach.c: listeners for the host's reverse entries (protocol 6) */
#define GUEST_REACH_DIR		"/run/porthole"	/* NAME.sock, for sockets */
void		 reach_update(const struct ph_reach *);
void		 reach_clear(void);
void		 reach_stop(void);

/* reachsock.c: their sockets, DIR/NAME.sock (the helper's, when split) */
int		 reachsock_listen(const char *);
void		 reachsock_unlink(const char *);

/* dial.c: connections the host asks for */
void		 dial_open(const struct ph_open *);
void		 dial_pair(const struct ph_pair *);
void		 dial_close(const struct ph_close *);
void		 dial_shut(const struct ph_shut *);
void		 dial_unshare(void);

/* notify.c: readiness, to systemd (sd_notify) and to a -D parent */
int		 notify_init(void);
int		 notify_send(const char *);
void		 notify_ready(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 notify_watchdog_start(struct event_base *);
void		 notify_stopping(void);

/* daemon.c: -D, detaching with a pid file */
#define GUEST_PIDFILE	"/run/porthole-guest.pid"
void		 daemon_pidfile(const char *);
void		 daemon_detach(void);
void		 daemon_write_pidfile(void);
void		 daemon_ready(void);
void		 daemon_exit(void);
void		 daemon_forget(void);
int		 daemon_pidfile_fd(void);

/* privdrop.c: what root is needed for ends with start-up */
void		 privdrop(void);

/* privsep.c: an unprivileged worker, a helper that names processes */
enum privsep_type {
	PRIVSEP_OWNER = 1,
	PRIVSEP_CONNECT,
	PRIVSEP_NATWATCH,
	PRIVSEP_NATDUMP,
	PRIVSEP_CONNECT_UNIX,
	PRIVSEP_LISTEN_UNIX,	/* a reverse entry's socket (reachsock.c) */
	PRIVSEP_UNLINK_UNIX
};

/*
 * Between the worker and its helper: of one fixed size each, host order,
 * without padding (a path of sun_path's 108 bytes, rounded up to 8).
 */
#define PRIVSEP_PATH_LEN	112
struct privsep_req {
	uint32_t	type;
	uint32_t	zero;
	uint64_t	inode;		/* OWNER; 0 for the others */
	/* CONNECT_UNIX: NUL-terminated, zeros after; else all zeros */
	char		path[PRIVSEP_PATH_LEN];
};

struct privsep_ans {
	uint32_t	type;		/* the request's */
	int32_t		err;		/* CONNECT: errno, 0 with a socket */
	uint32_t	own;		/* OWNER: the agent's own socket */
	uint32_t	pending;	/* CONNECT: connect() under way */
	char		name[PH_NAME_MAX];	/* OWNER: NUL-terminated */
	uint32_t	count;		/* NATDUMP: ports in this and after */
	struct natbind	nat;		/* NATDUMP: one, after the first */
};

void		 privsep_start(const char *);
void		 privsep_stop(void);
int		 privsep_connect(int *);
int		 privsep_nat_dump(struct natbind *, size_t, size_t *);
int		 privsep_nat_subscribe(void);
int		 privsep_connect_unix(const char *);
int		 privsep_listen_unix(const char *);
void		 privsep_unlink_unix(const char *);
const char	*privsep_check_req(const void *, size_t, int,
		    struct privsep_req *);
int		 privsep_serve(int);

/* jail.c: the worker's user, empty root and capabilities (none) */
#define GUEST_EMPTY_DIR	"/run/porthole-guest/empty"
int		 jail_user(const char *, uid_t *, gid_t *);
void		 jail_prepare(void);
void		 jail_enter(uid_t, gid_t);
const char	*jail_possible(void);

/* localsock.c: the agent's local sockets, opened before it splits */
struct localsock {
	const char	*what;		/* "status socket", in messages */
	struct endpoint	 ep;
	int		 fd;		/* -1: none */
	struct event	*ev;
	int		 made;		/* the path is ours to remove */
	dev_t		 dev;		/* which file it is */
	ino_t		 ino;
};

void		 localsock_open(struct localsock *, const char *,
		    const char *);
void		 localsock_start(struct localsock *,
		    void (*)(int, short, void *));
void		 localsock_stop(struct localsock *);
void		 localsock_forget(struct localsock *);
void		 localsock_unlink(struct localsock *);
int		 localsock_peer(int, uid_t *, pid_t *);

/* status.c: the local, root-only status socket (the one it accepts on) */
#define GUEST_STATUS_PATH	"/run/porthole-guest.sock"
#define GUEST_STATUS_CLIENTS	8
#define GUEST_STATUS_TIMEOUT	5	/* seconds to take the answer */

void		 status_open(const char *);
void		 status_start(void);
void		 status_stop(void);
void		 status_forget(void);
void		 status_unlink(void);

/* pxsock.c: the root-only socket a userland proxy asks before it binds */
#define GUEST_PROXY_PATH	"/run/porthole-guest-proxy.sock"
#define GUEST_PROXY_CLIENTS	1024	/* proxies asking or holding */
#define GUEST_PROXY_READ	5	/* seconds to send the request */
#define GUEST_PROXY_WAIT	5	/* seconds to wait for the host */

void		 pxsock_open(const char *);
void		 pxsock_start(void);
void		 pxsock_stop(void);
void		 pxsock_forget(void);
void		 pxsock_unlink(void);
void		 pxsock_verdict(const struct gbind *);

/* status_show.c: porthole-guest status */
int		 status_show(const char *, int);

#endif
