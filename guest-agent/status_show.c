/*
 * `porthole-guest status`: reads the running agent's status socket
 * (status.c) and prints every bind it saw with the host's verdict and
 * the reason, so that a user in the VM can see why a port is not
 * reachable from the host.  --json prints the document itself.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fwtable.h"
#include "guest.h"

#define STATUS_DOC_MAX	(16 * 1024 * 1024)

static struct evbuffer	*answer;	/* as it arrives */

static void __attribute__((noreturn))
die(const char *path, const char *what)
{
	if (answer != NULL)
		evbuffer_free(answer);
	fprintf(stderr, "porthole-guest: status: %s%s%s\n", path != NULL ?
	    path : "", path != NULL ? ": " : "", what);
	exit(1);
}

static json_t *
status_fetch(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	json_error_t		 jerr;
	json_t			*doc;
	int			 fd, n;

	if (strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path)
		die(path, "path too long");
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die(NULL, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		die(path, errno == ENOENT || errno == ECONNREFUSED ?
		    "porthole-guest is not running (or runs without a status "
		    "socket)" : errno == EACCES ? "permission denied (run as "
		    "root)" : strerror(errno));
	if ((answer = evbuffer_new()) == NULL)
		die(NULL, "out of memory");
	while ((n = evbuffer_read(answer, fd, 65536)) != 0) {
		if (n == -1 && errno != EINTR)
			die(path, strerror(errno));
		if (evbuffer_get_length(answer) > STATUS_DOC_MAX)
			die(path, "status too long");
	}
	close(fd);
	if (evbuffer_get_length(answer) == 0)
		die(path, "refused (only root and the agent's user may ask)");
	doc = json_loadb((const char *)evbuffer_pullup(answer, -1),
	    evbuffer_get_length(answer), 0, &jerr);
	evbuffer_free(answer);
	answer = NULL;
	if (doc == NULL)
		die(path, "the agent's answer is not JSON");
	return doc;
}

int
status_show(const char *path, int json_out)
{
	json_t	*doc, *binds;

	doc = status_fetch(path != NULL ? path : GUEST_STATUS_PATH);
	if (json_out) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(doc);
		return 0;
	}
	printf("porthole-guest %s, guest \"%s\", host %s: %s\n",
	    fwtable_str(doc, "version"), fwtable_str(doc, "name"),
	    fwtable_str(doc, "host"),
	    json_is_true(json_object_get(doc, "connected")) ? "connected" :
	    "not connected (reconnecting)");
	binds = json_object_get(doc, "binds");
	if (json_array_size(binds) == 0)
		printf("no binds\n");
	else
		fwtable_print(stdout, binds, 0);
	json_decref(doc);
	return 0;
}
