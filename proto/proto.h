/*
 * The porthole wire protocol, shared by porthole-host and porthole-guest.
 *
 * Every frame is an 8-byte header in network byte order,
 *
 *	u16 type, u16 flags, u32 length
 *
 * followed by length bytes of payload.  The guest opens every connection;
 * the first frame on a connection is HELLO (a control session), DATA (a
 * data stream for one forwarded connection, raw bytes after it), POOL
 * (a data stream opened in advance, raw bytes after the PAIR that names
 * it on the control channel) or REVERSE (v6: a stream for a guest client
 * of a host service the host listed, raw bytes after it).  For a UDP flow the stream carries
 * length-prefixed datagrams instead of raw bytes: see dgram.h.
 *
 * Field encodings: integers big-endian; a string is a u16 length and that
 * many printable ASCII bytes; an address is a u8 family (4 or 6) and 4 or
 * 16 bytes.  Decoders ignore bytes after the fields they know, so a later
 * version may append fields.  Unknown flags bits are ignored.
 *
 * When you change a message, bump PH_PROTO_VERSION and keep decoding the
 * old layout while it is in the supported range.
 */
#ifndef PH_PROTO_H
#define PH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/*
 * Version 2 adds the stream pool (POOL, PAIR); version 3 the key proof
 * (WELCOME's nonce, AUTH); version 4 stream reuse (SHUT, RELEASE);
 * version 5 guest Unix sockets (EXPOSE of kind PH_KIND_UNIX); version 6
 * reverse entries (REACH, and streams that start with REVERSE).  An
 * older peer is still served, without them.
 */
#define PH_PROTO_VERSION	6	/* the highest version this code speaks */
#define PH_PROTO_VERSION_MIN	1
#define PH_PROTO_VERSION_POOL	2	/* the first with POOL and PAIR */
#define PH_PROTO_VERSION_AUTH	3	/* the first with a nonce and AUTH */
#define PH_PROTO_VERSION_REUSE	4	/* the first with SHUT and RELEASE */
#define PH_PROTO_VERSION_UNIX	5	/* the first with EXPOSE of a socket */
#define PH_PROTO_VERSION_REACH	6	/* the first with REACH and REVERSE */

#define PH_HDR_LEN		8
#define PH_PAYLOAD_MAX		4096	/* control frames are small */
#define PH_FRAME_MAX		(PH_HDR_LEN + PH_PAYLOAD_MAX)
/* The longest frame that may start a connection (HELLO or DATA). */
#define PH_FIRST_FRAME_MAX	(PH_HDR_LEN + 256)

#define PH_NAME_MAX		64	/* guest name, agent version, process */
#define PH_REASON_MAX		256
#define PH_BOOTID_LEN		16
#define PH_HOSTADDR_MAX		2	/* a dual-stack bind gets two */
#define PH_POOL_MAX		64	/* idle pooled streams a host keeps */
#define PH_NONCE_LEN		32	/* WELCOME's, fresh for each HELLO */
#define PH_PROOF_LEN		32	/* AUTH's HMAC-SHA-256 */
/*
 * A guest Unix socket (v5): the name the host places it under, checked
 * by sockname.c, and the guest's path, shown only.  Each with its NUL.
 */
#define PH_SOCKNAME_MAX		48
#define PH_SOCKPATH_MAX		108	/* sizeof sun_path */
/*
 * Reverse entries (v6): the most a REACH lists, so that it fits a
 * control frame whatever its kinds (64 of the longest, 54 bytes, is
 * 3457 bytes).
 */
#define PH_REACH_MAX		64

enum ph_type {
	PH_HELLO = 1,		/* guest: versions, boot id, name */
	PH_WELCOME = 2,		/* host: chosen version, session, limits */
	PH_EXPOSE = 3,		/* guest: a bind appeared */
	PH_UNEXPOSE = 4,	/* guest: a bind is gone */
	PH_EXPOSED = 5,		/* host: verdict on an EXPOSE */
	PH_OPEN = 6,		/* host: a client connected, open a stream */
	PH_CLOSE = 7,		/* either: a connection failed or was reset */
	PH_DATA = 8,		/* guest, first frame of a data stream */
	PH_PING = 9,
	PH_PONG = 10,
	PH_ERROR = 11,		/* either: protocol error, said before closing */
	PH_POOL = 12,		/* guest, first frame of an idle pooled stream */
	PH_PAIR = 13,		/* host: a client came, on this pooled stream */
	PH_AUTH = 14,		/* guest: proof of the key, after WELCOME */
	PH_SHUT = 15,		/* either: EOF after so many stream bytes */
	PH_RELEASE = 16,	/* guest: a clean end, the stream idle again */
	PH_REACH = 17,		/* host: what the guest may reach of it (v6) */
	PH_REVERSE = 18,	/* guest, first frame of a reverse stream (v6) */
	PH_TYPE_MAX = 18
};

enum ph_verdict {
	PH_BOUND = 1,		/* listening on the address the guest asked */
	PH_REWRITTEN = 2,	/* listening, on another address */
	PH_REFUSED = 3,		/* refused by policy */
	PH_FAILED = 4		/* allowed, but the host could not listen */
};

enum ph_close_how {
	PH_CLOSE_REFUSED = 1,	/* guest could not reach the target */
	PH_CLOSE_RESET = 2,	/* the far side reset the connection */
	PH_CLOSE_ABORT = 3	/* anything else: drop the connection */
};

enum ph_error_code {
	PH_ERR_PROTOCOL = 1,	/* malformed or unexpected frame: closing */
	PH_ERR_VERSION = 2,	/* no common protocol version: closing */
	PH_ERR_UNKNOWN_TYPE = 3,	/* a frame type we do not know: skipped */
	PH_ERR_LIMIT = 4,	/* a limit was hit */
	PH_ERR_SHUTDOWN = 5,	/* the peer is going away */
	PH_ERR_AUTH = 6		/* no proof of the key, or a wrong one */
};

#define PH_EXPOSE_V6ONLY	0x01	/* an IPv6 bind that takes no IPv4 */

struct ph_frame_hdr {
	uint16_t	type;
	uint16_t	flags;
	uint32_t	length;
};

struct ph_hello {
	uint16_t	vmin, vmax;
	uint8_t		boot_id[PH_BOOTID_LEN];
	char		version[PH_NAME_MAX];
	char		name[PH_NAME_MAX];
};

struct ph_welcome {
	uint16_t	version;
	uint64_t	session;	/* token a data stream must present */
	uint32_t	max_payload;
	uint32_t	max_forwards;
	char		version_str[PH_NAME_MAX];
	/* version 3: whether the guest must send AUTH, and what to sign */
	uint8_t		auth;		/* enum ph_auth_kind */
	uint8_t		nonce[PH_NONCE_LEN];
};

enum ph_auth_kind {
	PH_AUTH_NONE = 0,	/* no key: the session starts at WELCOME */
	PH_AUTH_HMAC = 1	/* AUTH must prove the key (auth.c) */
};

/* After a WELCOME that asks for it, and before anything else (v3). */
struct ph_auth {
	uint8_t		proof[PH_PROOF_LEN];
};

/*
 * A bind (TCP, UDP: addr and port), or from version 5 a guest Unix
 * socket (PH_KIND_UNIX: name and path, which replace addr and port on
 * the wire).
 */
struct ph_expose {
	uint32_t	id;
	uint8_t		proto;		/* IPPROTO_TCP, IPPROTO_UDP, PH_KIND_UNIX */
	uint8_t		flags;		/* PH_EXPOSE_* */
	struct ph_addr	addr;
	uint16_t	port;
	char		name[PH_SOCKNAME_MAX];	/* PH_KIND_UNIX */
	char		path[PH_SOCKPATH_MAX];	/* PH_KIND_UNIX */
	char		process[PH_NAME_MAX];
};

struct ph_unexpose {
	uint32_t	id;
};

struct ph_hostaddr {
	struct ph_addr	addr;
	uint16_t	port;
};

struct ph_exposed {
	uint32_t		id;
	uint8_t			verdict;	/* enum ph_verdict */
	uint8_t			naddr;
	struct ph_hostaddr	host[PH_HOSTADDR_MAX];
	char			reason[PH_REASON_MAX];
};

struct ph_open {
	uint64_t	conn;
	uint32_t	forward;
};

struct ph_close {
	uint64_t	conn;
	uint8_t		how;		/* enum ph_close_how */
	char		reason[PH_REASON_MAX];
};

struct ph_data {
	uint64_t	session;
	uint64_t	conn;
};

/* The first frame of a data stream the guest opens in advance (v2). */
struct ph_pool {
	uint64_t	session;
	uint64_t	stream;		/* the guest's id for it */
};

/* OPEN on a pooled stream: its bytes already flow (v2). */
struct ph_pair {
	uint64_t	conn;
	uint32_t	forward;
	uint64_t	stream;
};

/*
 * Version 4: the sender's outside peer sent EOF; on the stream, this
 * connection's bytes in the sender's direction end after bytes of them.
 */
struct ph_shut {
	uint64_t	conn;
	uint64_t	bytes;
};

/* Version 4: conn ended cleanly here; its stream is pooled stream id. */
struct ph_release {
	uint64_t	conn;
	uint64_t	stream;
};

/*
 * Version 6: a host destination the guest may reach, as the guest sees
 * it: a TCP address and port (kind IPPROTO_TCP) or a socket name
 * (PH_KIND_UNIX) to listen on.  The destination itself never crosses
 * the wire: a stream names the entry's id, and only the host knows
 * where that leads.
 */
struct ph_reach_entry {
	uint32_t	id;		/* not 0 */
	uint8_t		kind;		/* IPPROTO_TCP or PH_KIND_UNIX */
	struct ph_addr	addr;		/* IPPROTO_TCP */
	uint16_t	port;		/* IPPROTO_TCP, not 0 */
	char		name[PH_SOCKNAME_MAX];	/* PH_KIND_UNIX */
};

/* Version 6: the whole list, each time; an entry not in it is gone. */
struct ph_reach {
	uint8_t			n;
	struct ph_reach_entry	e[PH_REACH_MAX];
};

/* Version 6: a client in the guest came to entry; raw bytes follow. */
struct ph_reverse {
	uint64_t	session;
	uint32_t	entry;
};

struct ph_ping {
	uint64_t	nonce;
};

struct ph_error {
	uint32_t	code;		/* enum ph_error_code */
	char		message[PH_REASON_MAX];
};

struct ph_msg {
	uint16_t	type;
	union {
		struct ph_hello		hello;
		struct ph_welcome	welcome;
		struct ph_auth		auth;
		struct ph_expose	expose;
		struct ph_unexpose	unexpose;
		struct ph_exposed	exposed;
		struct ph_open		open;
		struct ph_close		close;
		struct ph_data		data;
		struct ph_pool		pool;
		struct ph_pair		pair;
		struct ph_shut		shut;
		struct ph_release	release;
		struct ph_reach		reach;
		struct ph_reverse	reverse;
		struct ph_ping		ping;	/* PING and PONG */
		struct ph_error		error;
	} u;
};

/* ph_frame_decode() results */
#define PH_FRAME_BAD		(-1)	/* malformed: end the session */
#define PH_FRAME_MORE		0	/* not all there yet */
#define PH_FRAME_OK		1	/* *used bytes decoded into the message */
#define PH_FRAME_UNKNOWN	2	/* a type we do not know: skip *used */

/* proto.c */
int		 ph_hdr_decode(const uint8_t *, size_t, struct ph_frame_hdr *);
int		 ph_hdr_check(const struct ph_frame_hdr *, uint32_t,
		    const char **);
int		 ph_msg_decode(uint16_t, const uint8_t *, size_t,
		    struct ph_msg *, const char **);
int		 ph_frame_decode(const uint8_t *, size_t, uint32_t,
		    struct ph_msg *, size_t *, const char **);
size_t		 ph_msg_encode(const struct ph_msg *, uint8_t *, size_t);
const char	*ph_type_name(uint16_t);
const char	*ph_verdict_name(uint8_t);
const char	*ph_close_name(uint8_t);

/* sockname.c: the names a guest gives its Unix sockets */
int		 ph_sockname_check(const char *, const char **);
int		 ph_sockname_pattern_check(const char *, const char **);

#endif
