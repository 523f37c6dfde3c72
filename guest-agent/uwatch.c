/*
 * The VM's listening Unix stream sockets (protocol 5), from the same
 * NETLINK_SOCK_DIAG socket and scans as TCP and UDP binds (watch.c):
 * an AF_UNIX dump of sockets in LISTEN with their names
 * (UDIAG_SHOW_NAME).  A socket is a bind when its path is one the guest
 * forwards (usock.c); abstract and unnamed sockets never are.  The
 * kernel needs unix_diag (CONFIG_UNIX_DIAG): without it, sockets are not
 * watched (watch.c says so once).
 */
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "guest.h"

/* The dump's request, after its netlink header. */
void
uwatch_request(struct nlmsghdr *nlh)
{
	struct unix_diag_req	*req;

	req = mnl_nlmsg_put_extra_header(nlh, sizeof *req);
	req->sdiag_family = AF_UNIX;
	req->sdiag_protocol = 0;
	req->udiag_states = 1 << TCP_LISTEN;
	req->udiag_show = UDIAG_SHOW_NAME;
}

static int
uwatch_attr_cb(const struct nlattr *a, void *arg)
{
	const struct nlattr	**name = arg;

	if (mnl_attr_get_type(a) == UNIX_DIAG_NAME)
		*name = a;
	return MNL_CB_OK;
}

/*
 * The bind key of one answer and its inode: 1 for a listening stream
 * socket at a path the guest forwards, else 0.  The name attribute is
 * the path as bound, bounded by sun_path, with the NUL the kernel ends
 * a path with (an abstract name has none, and starts with one).
 */
int
uwatch_decode(const struct nlmsghdr *nlh, struct gbind *key,
    uint64_t *inode)
{
	const struct unix_diag_msg	*m;
	const struct nlattr		*name = NULL;
	size_t				 n;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
		return 0;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->udiag_family != AF_UNIX || m->udiag_type != SOCK_STREAM ||
	    m->udiag_state != TCP_LISTEN)
		return 0;
	mnl_attr_parse(nlh, sizeof *m, uwatch_attr_cb, &name);
	if (name == NULL)
		return 0;
	n = mnl_attr_get_payload_len(name);
	memset(key, 0, sizeof *key);
	if (n > 0 && ((const char *)mnl_attr_get_payload(name))[n - 1] == '\0')
		n--;
	if (n == 0 || n >= sizeof key->path)
		return 0;
	memcpy(key->path, mnl_attr_get_payload(name), n);
	/* Abstract ("\0..."), or a NUL inside: not a path we forward. */
	if (key->path[0] != '/' || strlen(key->path) != n)
		return 0;
	if (!usock_match(key->path, key->name, sizeof key->name))
		return 0;
	key->proto = PH_KIND_UNIX;
	*inode = m->udiag_ino;
	return 1;
}
