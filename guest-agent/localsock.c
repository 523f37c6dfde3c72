/*
 * The guest agent's local sockets (the status socket, the proxy socket):
 * opened as root before the agent detaches and splits, so that an error
 * reaches the user; served by the worker; removed at exit only if the
 * path still names our socket, since a new agent may have taken it over.
 * Who may connect is each socket's own question (localsock_peer gives
 * the credentials to decide it).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"

/*
 * Opens ls: path is the user's (-s, -r), or NULL for def; a default
 * that another agent serves is left to it, with a warning; "none" opens
 * nothing.
 */
void
localsock_open(struct localsock *ls, const char *path, const char *def)
{
	char		spec[sizeof ls->ep.path + 8], err[256];
	struct stat	sb;

	ls->fd = -1;
	if (path != NULL && strcmp(path, "none") == 0)
		return;
	snprintf(spec, sizeof spec, "unix:%s", path != NULL ? path : def);
	if (endpoint_parse(spec, EP_LISTEN, &ls->ep, err, sizeof err) == -1 ||
	    endpoint_absolute(&ls->ep, err, sizeof err) == -1)
		fatalx("%s: %s", ls->what, err);
	if ((ls->fd = endpoint_listen(&ls->ep, err, sizeof err)) == -1) {
		if (path == NULL) {
			log_warnx("%s: %s: running without one", ls->what,
			    err);
			return;
		}
		fatalx("%s: %s", ls->what, err);
	}
	if (stat(ls->ep.path, &sb) == -1)
		fatal("%s %s", ls->what, ls->ep.path);
	ls->made = 1;
	ls->dev = sb.st_dev;
	ls->ino = sb.st_ino;
}

/* Starts accepting with cb, once the event loop exists. */
void
localsock_start(struct localsock *ls, void (*cb)(int, short, void *))
{
	if (ls->fd == -1)
		return;
	ls->ev = event_new(guest->base, ls->fd, EV_READ | EV_PERSIST, cb,
	    NULL);
	if (ls->ev == NULL)
		fatalx("event_new");
	event_add(ls->ev, NULL);
	log_info("%s %s", ls->what, ls->ep.path);
}

void
localsock_stop(struct localsock *ls)
{
	if (ls->fd == -1)
		return;
	if (ls->ev != NULL)
		event_free(ls->ev);
	ls->ev = NULL;
	close(ls->fd);
	localsock_unlink(ls);
	ls->fd = -1;
}

/* The worker, once split: the path is the helper's to remove. */
void
localsock_forget(struct localsock *ls)
{
	ls->made = 0;
}

/* Removes the path if it still names our socket. */
void
localsock_unlink(struct localsock *ls)
{
	struct stat	sb;

	if (!ls->made)
		return;
	ls->made = 0;
	if (lstat(ls->ep.path, &sb) == 0 && sb.st_dev == ls->dev &&
	    sb.st_ino == ls->ino)
		endpoint_unlink(&ls->ep);
}

/* A client's uid and pid (SO_PEERCRED); -1 and 0 when unknown. */
int
localsock_peer(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred	cr;
	socklen_t	len = sizeof cr;

	*uid = (uid_t)-1;
	*pid = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	*uid = cr.uid;
	*pid = cr.pid;
	return 0;
}
