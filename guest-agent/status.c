/*
 * The guest agent's local status socket: the one socket it accepts on.
 * It is a Unix socket inside the VM (default /run/porthole-guest.sock),
 * mode 0600, and answers only root and the user that started the agent
 * (checked with SO_PEERCRED; not the worker's user once the agent is
 * split, see privsep.c).  It reads nothing: a client connects, is sent one
 * JSON document (every bind the agent saw and the host's verdict on it,
 * with the reason), and the connection is closed.  `porthole-guest
 * status` prints it (status_show.c).  Nothing from the host or from
 * the network reaches it.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "guest.h"
#include "log.h"
#include "version.h"

static struct {
	struct localsock ls;
	int		 nclients;
	uid_t		 uid;		/* who started the agent */
} st = { .ls = { .what = "status socket", .fd = -1 } };

static json_t *
status_addr(const struct ph_addr *a, uint16_t port)
{
	char	buf[PH_ADDRSTRLEN];

	return json_pack("{s:s, s:i}", "address", addr_ntop(a, buf,
	    sizeof buf), "port", port);
}

static void
status_bind(struct gbind *b, void *arg)
{
	json_t		*binds = arg, *o, *hosts = json_array();
	char		 ga[PH_ADDRSTRLEN];
	int		 i;

	for (i = 0; b->verdict != 0 && i < b->reply.naddr; i++)
		json_array_append_new(hosts, status_addr(&b->reply.host[i].addr,
		    b->reply.host[i].port));
	/* The names and types of GET /v1/forwards (docs/protocol.md). */
	o = json_pack("{s:I, s:s, s:s, s:i, s:b, s:o, s:s, s:o, s:s}",
	    "id", (json_int_t)b->id, "proto", proto_name(b->proto),
	    "guest_address", addr_ntop(&b->addr, ga, sizeof ga),
	    "guest_port", b->port, "v6only", b->v6only,
	    "process", b->process[0] != '\0' ? json_string(b->process) :
	    json_null(),
	    "verdict", b->verdict != 0 ? ph_verdict_name(b->verdict) :
	    "waiting", "host", hosts,
	    "reason", b->verdict != 0 ? b->reply.reason :
	    "no answer from the host yet");
	if (b->proto == PH_KIND_UNIX) {	/* a socket: its path and name */
		json_object_set_new(o, "guest_address", json_null());
		json_object_set_new(o, "guest_port", json_null());
		json_object_set_new(o, "socket_name", json_string(b->name));
		json_object_set_new(o, "guest_path", json_string(b->path));
	}
	json_array_append_new(binds, o);
}

static char *
status_document(void)
{
	json_t	*doc, *binds = json_array();
	char	*s;

	watch_foreach(status_bind, binds);
	doc = json_pack("{s:s, s:s, s:s, s:b, s:o}", "version",
	    PORTHOLE_VERSION, "name", guest->name, "host", guest->ep.str,
	    "connected", gsession_established(), "binds", binds);
	if (doc == NULL || (s = json_dumps(doc, JSON_COMPACT |
	    JSON_ENSURE_ASCII)) == NULL)
		fatalx("cannot build the status document");
	json_decref(doc);
	return s;
}

static void
status_done(struct bufferevent *bev)
{
	bufferevent_free(bev);
	st.nclients--;
}

static void
status_written_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	status_done(bev);
}

static void
status_error_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	status_done(bev);
}

static int
status_peer_allowed(int fd, uid_t *uid)
{
	pid_t	pid;

	if (localsock_peer(fd, uid, &pid) == -1)
		return 0;
	return *uid == 0 || *uid == st.uid;
}

static void
status_accept_cb(int lfd, short ev, void *arg)
{
	struct bufferevent	*bev;
	struct timeval		 tv = { GUEST_STATUS_TIMEOUT, 0 };
	char			*doc;
	uid_t			 uid;
	int			 fd;

	(void)ev;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("status socket: accept");
		return;
	}
	if (!status_peer_allowed(fd, &uid) ||
	    st.nclients >= GUEST_STATUS_CLIENTS) {
		log_warnx("status socket: %suid %d refused", st.nclients >=
		    GUEST_STATUS_CLIENTS ? "busy, " : "", (int)uid);
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(guest->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("bufferevent_socket_new");
	st.nclients++;
	doc = status_document();
	evbuffer_add_printf(bufferevent_get_output(bev), "%s\n", doc);
	free(doc);
	bufferevent_setcb(bev, NULL, status_written_cb, status_error_cb, NULL);
	bufferevent_set_timeouts(bev, NULL, &tv);
	bufferevent_enable(bev, EV_WRITE);
}

/*
 * Opens the socket, before the agent detaches, so that an error reaches
 * the user: -s's path, or NULL for the default (see localsock_open).
 */
void
status_open(const char *path)
{
	localsock_open(&st.ls, path, GUEST_STATUS_PATH);
	st.uid = geteuid();
}

/* Starts answering, once the event loop exists. */
void
status_start(void)
{
	localsock_start(&st.ls, status_accept_cb);
}

void
status_stop(void)
{
	localsock_stop(&st.ls);
}

/* The worker, once split: the path is the helper's to remove. */
void
status_forget(void)
{
	localsock_forget(&st.ls);
}

void
status_unlink(void)
{
	localsock_unlink(&st.ls);
}
