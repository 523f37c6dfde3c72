/* porthole-docker-proxy: its private header, one banner per file. */
#ifndef PH_DPROXY_H
#define PH_DPROXY_H

#include <stddef.h>

#include "pxmsg.h"

/* Where it looks, unless the environment says otherwise (dproxy.c). */
#define DPROXY_SOCKET		"/run/porthole-guest-proxy.sock"
#define DPROXY_SOCKET_ENV	"PORTHOLE_PROXY_SOCKET"
#define DPROXY_PROXY_ENV	"PORTHOLE_DOCKER_PROXY"
/* The agent's own wait is 5 s; dockerd 20.10 waits 16 s for descriptor 3. */
#define DPROXY_ANSWER_SECS	10
#define DPROXY_REPORT_FD	3	/* dockerd reads the outcome here */

/* dproxy_args.c: docker-proxy's arguments, as dockerd passes them */
struct dproxy_args {
	const char	*proto, *host_ip, *host_port;
	const char	*container_ip, *container_port;
};

int		 dproxy_args_parse(int, char **, struct dproxy_args *,
		    char *, size_t);
int		 dproxy_args_request(const struct dproxy_args *,
		    struct pxmsg_req *, char *, size_t);

#endif
