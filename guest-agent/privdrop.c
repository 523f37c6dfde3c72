/*
 * Privileges, dropped once start-up is over.  The guest agent starts as
 * root from the VM's init because start-up needs it: the listen trigger
 * loads its BPF programs and opens the perf event its Unix half may run
 * on (CAP_BPF, CAP_PERFMON), the exec trigger joins the proc connector
 * (CAP_NET_ADMIN), the descriptor limit is raised (CAP_SYS_RESOURCE),
 * the pid file and status socket go in /run.  After
 * that it only watches binds (sock_diag needs nothing), dials its host
 * and its targets (nothing), and names the process behind each bind by
 * reading /proc/PID/fd of processes of any user.  Split (privsep.c),
 * this is the helper's drop, which does only the naming; the worker
 * drops everything (jail.c).  Naming takes CAP_DAC_READ_SEARCH (to
 * enter the directory) and CAP_SYS_PTRACE (the kernel's ptrace access
 * check on it).  Those two stay, if the agent had them, and with a vsock
 * endpoint CAP_NET_BIND_SERVICE, for the reserved source port that tells
 * the host a connection is the agent's (privsep.c), and CAP_NET_ADMIN,
 * which nf_tables asks of every netlink request, to read the DNAT rules
 * that publish ports with no socket (natdump.c); every other
 * capability goes from every set, the bounding set included, and
 * no_new_privs keeps an exec from getting any back.  The uid stays 0 so
 * that the pid file and the status socket, root's, can be removed at
 * exit.
 */
#include <sys/prctl.h>
#include <cap-ng.h>
#include <string.h>

#include "guest.h"
#include "log.h"

static const struct {
	int		 cap;
	const char	*name;
} kept[] = {
	{ CAP_DAC_READ_SEARCH,	"CAP_DAC_READ_SEARCH" },
	{ CAP_SYS_PTRACE,	"CAP_SYS_PTRACE" },
	{ CAP_NET_BIND_SERVICE,	"CAP_NET_BIND_SERVICE" },	/* vsock */
	{ CAP_NET_ADMIN,	"CAP_NET_ADMIN" },	/* NAT rules */
};
#define NKEPT	(sizeof kept / sizeof kept[0])

/* After start-up: only what naming a bind's process needs stays. */
void
privdrop(void)
{
	char	names[128] = "";
	size_t	i;
	int	have[NKEPT];

	if (capng_get_caps_process() == -1)
		fatalx("cannot read the process's capabilities");
	for (i = 0; i < NKEPT; i++)
		have[i] = capng_have_capability(CAPNG_PERMITTED, kept[i].cap) &&
		    (kept[i].cap != CAP_NET_BIND_SERVICE ||
		    guest->ep.type == EP_VSOCK);
	capng_clear(CAPNG_SELECT_ALL);
	for (i = 0; i < NKEPT; i++) {
		if (!have[i])
			continue;
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
		    CAPNG_BOUNDING_SET, kept[i].cap) == -1)
			fatalx("capng_update");
		if (names[0] != '\0')
			strlcat(names, " ", sizeof names);
		strlcat(names, kept[i].name, sizeof names);
	}
	/*
	 * Changing the bounding set takes CAP_SETPCAP: an agent started
	 * without it (not as root) has little to drop, and drops that.
	 */
	if (capng_apply(CAPNG_SELECT_ALL) != 0 &&
	    capng_apply(CAPNG_SELECT_CAPS) != 0)
		fatalx("cannot drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	log_info("privileges dropped: kept %s", names[0] != '\0' ? names :
	    "none (binds of other users' processes are not named)");
}
