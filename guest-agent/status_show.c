/*
 * `porthole-guest status`: reads the running agent's status socket
 * (status.c) and prints every bind it saw with the host's verdict and
 * the reason, so that a user in the VM can see why a port is not
 * reachable from the host.  --json prints the document itself.
 */
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

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

static const char *
str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : "-";
}

static void
fmt_addr(char *buf, size_t len, json_t *o, const char *akey)
{
	const char	*a = str(o, akey);
	long long	 p = json_integer_value(json_object_get(o, "port"));

	snprintf(buf, len, strchr(a, ':') != NULL ? "[%s]:%lld" : "%s:%lld",
	    a, p);
}

/* The host addresses of a bind, "-" if none. */
static const char *
host_addrs(json_t *b, char *buf, size_t len)
{
	json_t	*h;
	char	 one[80];
	size_t	 i;

	buf[0] = '\0';
	json_array_foreach(json_object_get(b, "host"), i, h) {
		fmt_addr(one, sizeof one, h, "address");
		if (i > 0)
			strlcat(buf, ",", len);
		strlcat(buf, one, len);
	}
	if (buf[0] == '\0')
		strlcpy(buf, "-", len);
	return buf;
}

struct widths {
	int	addr, proc, host;
};

static void
show_row(const char *proto, const char *ga, const char *proc,
    const char *verdict, const char *ha, const char *reason,
    const struct widths *w)
{
	printf("%-5s  %-*s  %-*s  %-9s  %-*s  %s\n", proto, w->addr, ga,
	    w->proc, proc, verdict, w->host, ha, reason);
}

static void
show_binds(json_t *binds)
{
	struct widths	 w = { 7, 7, 12 };
	json_t		*b;
	char		 ga[80], ha[180];
	size_t		 i;

	json_array_foreach(binds, i, b) {
		fmt_addr(ga, sizeof ga, b, "address");
		w.addr = MAX(w.addr, (int)strlen(ga));
		w.proc = MAX(w.proc, (int)strlen(str(b, "process")));
		w.host = MAX(w.host, (int)strlen(host_addrs(b, ha, sizeof ha)));
	}
	show_row("PROTO", "ADDRESS", "PROCESS", "VERDICT", "HOST ADDRESS",
	    "REASON", &w);
	json_array_foreach(binds, i, b) {
		fmt_addr(ga, sizeof ga, b, "address");
		show_row(str(b, "proto"), ga, str(b, "process"),
		    str(b, "verdict"), host_addrs(b, ha, sizeof ha),
		    str(b, "reason"), &w);
	}
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
	    str(doc, "version"), str(doc, "name"), str(doc, "host"),
	    json_is_true(json_object_get(doc, "connected")) ? "connected" :
	    "not connected (reconnecting)");
	binds = json_object_get(doc, "binds");
	if (json_array_size(binds) == 0)
		printf("no binds\n");
	else
		show_binds(binds);
	json_decref(doc);
	return 0;
}
