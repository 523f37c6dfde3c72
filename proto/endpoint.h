/*
 * Where the agents meet: "vsock:PORT", "vsock:CID:PORT" or "unix:PATH".
 * The host listens, the guest connects.
 */
#ifndef PH_ENDPOINT_H
#define PH_ENDPOINT_H

#include <sys/un.h>
#include <stddef.h>
#include <stdint.h>

#define PH_DEFAULT_PORT		6440
#define PH_CID_ANY		0xffffffffU	/* VMADDR_CID_ANY */
#define PH_CID_LOCAL		1U		/* VMADDR_CID_LOCAL */
#define PH_CID_HOST		2U		/* VMADDR_CID_HOST */
/* Only a privileged process binds these: the guest agent's source port. */
#define PH_RESERVED_PORT_MAX	1023U

enum endpoint_type {
	EP_VSOCK,
	EP_UNIX
};

enum endpoint_role {
	EP_LISTEN,	/* host: vsock:PORT means any CID */
	EP_CONNECT	/* guest: vsock:PORT means the host, CID 2 */
};

struct endpoint {
	enum endpoint_type	type;
	uint32_t		cid;
	uint32_t		port;
	char			path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char			str[8 + sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int	endpoint_parse(const char *, enum endpoint_role, struct endpoint *,
	    char *, size_t);
int	endpoint_listen(const struct endpoint *, char *, size_t);
int	endpoint_connect(const struct endpoint *, int *, int *);
int	endpoint_absolute(struct endpoint *, char *, size_t);
void	endpoint_unlink(const struct endpoint *);

#endif
