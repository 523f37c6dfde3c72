/*
 * docker-proxy's command line, as dockerd writes it:
 *
 *	-proto tcp -host-ip 0.0.0.0 -host-port 8080
 *	    -container-ip 172.17.0.2 -container-port 80
 *
 * in Go's flag syntax (-name value, -name=value, and the same with two
 * dashes).  Only the host side is read here: what to ask the guest
 * agent for.  A flag this does not know is skipped, with the argument
 * after it when that is not a flag (its value), since the command line
 * goes to docker-proxy unchanged and docker-proxy judges it; the same
 * goes for a value that does not parse: no question is asked, and
 * docker-proxy reports the error as it always has.
 */
#include <stdio.h>
#include <string.h>

#include "dproxy.h"

static const char **
dproxy_args_slot(struct dproxy_args *a, const char *name, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} flags[] = {
		{ "proto", offsetof(struct dproxy_args, proto) },
		{ "host-ip", offsetof(struct dproxy_args, host_ip) },
		{ "host-port", offsetof(struct dproxy_args, host_port) },
		{ "container-ip", offsetof(struct dproxy_args, container_ip) },
		{ "container-port", offsetof(struct dproxy_args,
		    container_port) },
	};
	size_t	i;

	for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strlen(flags[i].name) == len &&
		    strncmp(flags[i].name, name, len) == 0)
			return (const char **)((char *)a + flags[i].off);
	return NULL;
}

/*
 * argv[1..argc-1] into *a: 0, or -1 and why (a known flag without its
 * value, or not a flag where one was expected).
 */
int
dproxy_args_parse(int argc, char **argv, struct dproxy_args *a, char *err,
    size_t errlen)
{
	const char	**slot, *name, *eq;
	int		  i;

	memset(a, 0, sizeof *a);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0 ||
		    strcmp(argv[i], "--") == 0) {
			snprintf(err, errlen, "\"%s\" is not a flag", argv[i]);
			return -1;
		}
		name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		slot = dproxy_args_slot(a, name, eq != NULL ?
		    (size_t)(eq - name) : strlen(name));
		if (eq != NULL) {
			if (slot != NULL)
				*slot = eq + 1;
		} else if (slot != NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s needs a value",
				    argv[i]);
				return -1;
			}
			*slot = argv[++i];
		} else if (i + 1 < argc && argv[i + 1][0] != '-')
			i++;	/* an unknown flag's value */
	}
	return 0;
}

/*
 * The question for the guest agent: 0 with *r filled; -1 and why when
 * there is none to ask (another protocol, a value that does not parse).
 */
int
dproxy_args_request(const struct dproxy_args *a, struct pxmsg_req *r,
    char *err, size_t errlen)
{
	char	line[PXMSG_REQ_MAX + 1];
	int	n;

	if (a->proto == NULL || a->host_ip == NULL || a->host_port == NULL) {
		snprintf(err, errlen, "no -proto, -host-ip or -host-port");
		return -1;
	}
	/* The line the agent would read, read here first: one rule. */
	n = snprintf(line, sizeof line, "%s %s %s %s docker-proxy\n",
	    PXMSG_MAGIC, a->proto, a->host_ip, a->host_port);
	if (n < 0 || (size_t)n >= sizeof line) {
		snprintf(err, errlen, "arguments too long");
		return -1;
	}
	return pxmsg_req_parse(line, (size_t)n, r, err, errlen);
}
