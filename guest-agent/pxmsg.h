/*
 * The proxy socket's two messages (pxmsg.c), between a userland proxy
 * that asks for the host's verdict before it binds (porthole-docker-proxy,
 * shim/) and the guest agent (pxsock.c).  Each is one line of printable
 * ASCII, of a bounded length:
 *
 *	request	"porthole-proxy/1 PROTO ADDRESS PORT NAME\n"
 *		PROTO tcp or udp, ADDRESS an IPv4 or IPv6 literal, PORT 1
 *		to 65535 in decimal, NAME the process to name the bind
 *		after (docker-proxy): 1 to 15 of [A-Za-z0-9._-]
 *	answer	"VERDICT HOSTS REASON\n"
 *		VERDICT one of pxmsg_verdict_name()'s, HOSTS "-" or the host
 *		addresses ("127.0.0.1:8080,[::1]:8080"), REASON the host's
 *		(or the agent's) words, printable ASCII, never empty
 */
#ifndef PH_PXMSG_H
#define PH_PXMSG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define PXMSG_MAGIC	"porthole-proxy/1"
#define PXMSG_REQ_MAX	128	/* bytes, the newline included */
#define PXMSG_ANS_MAX	512
#define PXMSG_NAME_MAX	16	/* a process's comm, the NUL included */
#define PXMSG_HOSTS_MAX	128
#define PXMSG_REASON_MAX 256	/* PH_REASON_MAX */

enum pxmsg_verdict {
	PX_BOUND = 1,		/* the host listens where asked: bind */
	PX_REWRITTEN,		/* the host listens elsewhere: bind */
	PX_REFUSED,		/* the host's policy refuses it: fail */
	PX_FAILED,		/* the host could not listen: fail */
	PX_PENDING,		/* no answer from the host in time: bind */
	PX_IGNORED,		/* the agent does not forward it (-i): bind */
	PX_BUSY,		/* too many asked at once: bind */
	PX_DENIED,		/* not root: fail */
	PX_INVALID		/* a request the agent cannot read: fail */
};

struct pxmsg_req {
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	struct ph_addr	addr;
	uint16_t	port;
	char		name[PXMSG_NAME_MAX];
};

struct pxmsg_ans {
	int		verdict;	/* enum pxmsg_verdict */
	char		hosts[PXMSG_HOSTS_MAX];
	char		reason[PXMSG_REASON_MAX];
};

const char	*pxmsg_verdict_name(int);
int		 pxmsg_verdict_fails(int);
int		 pxmsg_req_format(const struct pxmsg_req *, char *, size_t);
int		 pxmsg_req_parse(const char *, size_t, struct pxmsg_req *,
		    char *, size_t);
int		 pxmsg_ans_format(const struct pxmsg_ans *, char *, size_t);
int		 pxmsg_ans_parse(const char *, size_t, struct pxmsg_ans *,
		    char *, size_t);
void		 pxmsg_printable(char *, size_t, const char *);

#endif
