/*
 * portholectl's side of the API: one HTTP/1.0 request per connection
 * over the agent's Unix socket.  HTTP/1.0 keeps the client small and
 * honest: the agent neither keeps the connection alive nor chunks its
 * reply, so a reply is the status line, headers, and the body up to EOF
 * (the event stream: JSON lines until the agent goes away).  Lines are
 * read with libevent's evbuffer; JSON is parsed with jansson.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "ctl.h"

void
ctl_die(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "portholectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
ctl_open(struct ctl_conn *c, const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof *c);
	c->path = path;
	if (strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path)
		ctl_die("API socket path too long: %s", path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		ctl_die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		if ((c->in = evbuffer_new()) == NULL)
			ctl_die("out of memory");
		return;
	}
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
		ctl_die("porthole-host is not running (no API at %s)", path);
	case EACCES:
	case EPERM:
		ctl_die("permission denied: %s belongs to another user", path);
	default:
		ctl_die("cannot connect to %s: %s", path, strerror(errno));
	}
}

static void
ctl_write(struct ctl_conn *c, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_die("sending to %s: %s", c->path, strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads more of the reply; returns 0 at EOF. */
static int
ctl_fill(struct ctl_conn *c)
{
	int	n;

	do
		n = evbuffer_read(c->in, c->fd, 65536);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		ctl_die("reading from %s: %s", c->path, strerror(errno));
	return n;
}

/* A line of the reply head, without its CRLF. */
static char *
ctl_head_line(struct ctl_conn *c, size_t *seen)
{
	char	*line;
	size_t	 len;

	while ((line = evbuffer_readln(c->in, &len, EVBUFFER_EOL_CRLF)) ==
	    NULL) {
		if (evbuffer_get_length(c->in) > CTL_HEAD_MAX)
			ctl_die("reply headers from %s too long", c->path);
		if (ctl_fill(c) == 0)
			ctl_die("%s closed the connection before replying",
			    c->path);
	}
	if ((*seen += len) > CTL_HEAD_MAX)
		ctl_die("reply headers from %s too long", c->path);
	return line;
}

/* Sends the request and reads the status line and the headers. */
void
ctl_request(struct ctl_conn *c, const char *method, const char *target,
    const char *body)
{
	char	*line, head[512];
	size_t	 seen = 0, blen = body != NULL ? strlen(body) : 0;
	int	 n, major, minor, off = 0;

	n = snprintf(head, sizeof head, "%s %s HTTP/1.0\r\nHost: localhost\r\n"
	    "User-Agent: portholectl\r\n", method, target);
	if (body != NULL)
		n += snprintf(head + n, sizeof head - n, "Content-Type: "
		    "application/json\r\nContent-Length: %zu\r\n", blen);
	n += snprintf(head + n, sizeof head - n, "\r\n");
	ctl_write(c, head, (size_t)n);
	if (body != NULL)
		ctl_write(c, body, blen);
	line = ctl_head_line(c, &seen);
	if (sscanf(line, "HTTP/%d.%d %3d %n", &major, &minor, &c->status,
	    &off) != 3 || c->status < 100 || c->status > 599)
		ctl_die("%s did not answer in HTTP (is it porthole-host's "
		    "API?)", c->path);
	strlcpy(c->reason, line + off, sizeof c->reason);
	free(line);
	while ((line = ctl_head_line(c, &seen)) != NULL && line[0] != '\0')
		free(line);
	free(line);
}

/* The whole body, as JSON.  A reply that is not JSON is an error. */
json_t *
ctl_read_json(struct ctl_conn *c)
{
	json_error_t	 jerr;
	json_t		*j;

	while (ctl_fill(c) > 0)
		if (evbuffer_get_length(c->in) > CTL_BODY_MAX)
			ctl_die("reply from %s too long", c->path);
	j = json_loadb((const char *)evbuffer_pullup(c->in, -1),
	    evbuffer_get_length(c->in), 0, &jerr);
	if (j == NULL && c->status == 200)
		ctl_die("reply from %s is not JSON: %s", c->path, jerr.text);
	return j;
}

/* The next line of a streamed body, or NULL at its end. */
char *
ctl_read_line(struct ctl_conn *c)
{
	char	*line;
	size_t	 len;

	while ((line = evbuffer_readln(c->in, &len, EVBUFFER_EOL_LF)) ==
	    NULL) {
		if (evbuffer_get_length(c->in) > CTL_LINE_MAX)
			ctl_die("an event from %s is too long", c->path);
		if (ctl_fill(c) == 0)
			return NULL;
	}
	return line;
}

/* The agent said no: its JSON error, or the status line. */
void
ctl_fail_reply(struct ctl_conn *c, const char *what)
{
	json_t		*j = ctl_read_json(c);
	const char	*msg = NULL;
	char		 line[1024];

	if (j != NULL)
		msg = json_string_value(json_object_get(j, "error"));
	if (msg != NULL)
		snprintf(line, sizeof line, "%s: %s", what, msg);
	else
		snprintf(line, sizeof line, "%s: HTTP %d %s", what, c->status,
		    c->reason);
	json_decref(j);
	ctl_close(c);
	ctl_die("%s", line);
}

void
ctl_close(struct ctl_conn *c)
{
	evbuffer_free(c->in);
	close(c->fd);
}
