/*
 * Privileged host ports.  A port below the kernel's
 * net.ipv4.ip_unprivileged_port_start (IPv6 too) may be bound only
 * with CAP_NET_BIND_SERVICE.  The host agent runs as the desktop user,
 * without it: policy_decide() refuses such a port before any socket is
 * opened, with a reason that says so, rather than let bind() fail with
 * "permission denied".  Both are read once at start-up; the sysctl
 * again on SIGHUP.
 */
#include <cap-ng.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

#define PRIVPORT_SYSCTL	"/proc/sys/net/ipv4/ip_unprivileged_port_start"
#define PRIVPORT_DEFAULT 1024	/* the kernel's, when the file is unreadable */

/* The sysctl, of the agent's network namespace; 1024 if unreadable. */
static int
privport_read_sysctl(void)
{
	const char	*errstr;
	char		 buf[32];
	ssize_t		 n;
	int		 fd, v;

	if ((fd = open(PRIVPORT_SYSCTL, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s: assuming %d", PRIVPORT_SYSCTL, PRIVPORT_DEFAULT);
		return PRIVPORT_DEFAULT;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		log_warnx("%s: unreadable: assuming %d", PRIVPORT_SYSCTL,
		    PRIVPORT_DEFAULT);
		return PRIVPORT_DEFAULT;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	v = (int)strtonum(buf, 0, 65536, &errstr);
	if (errstr != NULL) {
		log_warnx("%s: \"%s\" is %s: assuming %d", PRIVPORT_SYSCTL,
		    buf, errstr, PRIVPORT_DEFAULT);
		return PRIVPORT_DEFAULT;
	}
	return v;
}

/*
 * Whether CAP_NET_BIND_SERVICE is in the effective set.  If it cannot be
 * read the agent cannot tell: it says it has it, and bind() decides.
 */
static int
privport_read_cap(void)
{
	if (capng_get_caps_process() == -1) {
		log_warnx("cannot read the process's capabilities: binding "
		    "ports below %d is left to the kernel", PRIVPORT_DEFAULT);
		return 1;
	}
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_BIND_SERVICE);
}

static void
privport_log(const struct policy *p)
{
	if (p->bind_cap || p->unpriv_port_start == 0)
		log_info("privileged ports: none refused (%s)", p->bind_cap ?
		    "CAP_NET_BIND_SERVICE" : "net.ipv4."
		    "ip_unprivileged_port_start 0");
	else
		log_info("privileged ports: host ports below %d are refused "
		    "(no CAP_NET_BIND_SERVICE)", p->unpriv_port_start);
}

/* At start-up: the capability and the sysctl. */
void
privport_init(struct policy *p)
{
	p->bind_cap = privport_read_cap();
	p->unpriv_port_start = privport_read_sysctl();
	privport_log(p);
}

/*
 * SIGHUP: the sysctl again.  Returns 1 and says why in why if it moved
 * (policy_reload then decides the forwards again, once), else 0.
 */
int
privport_reload(struct policy *p, char *why, size_t len)
{
	int	v = privport_read_sysctl();

	if (v == p->unpriv_port_start)
		return 0;
	snprintf(why, len, "net.ipv4.ip_unprivileged_port_start "
	    "changed from %d to %d", p->unpriv_port_start, v);
	p->unpriv_port_start = v;
	privport_log(p);
	return 1;
}
