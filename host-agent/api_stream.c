/*
 * GET /v1/events: a long-lived reply of JSON lines, one per event,
 * starting with a "stream-start" line that carries the sequence number
 * of the last event before it (so that a client can read GET
 * /v1/forwards after it and miss nothing).  Connection-level events
 * (connection-opened, -bytes, -closed) feed the metrics only.
 *
 * A client that does not keep up is dropped, never buffered for: once
 * API_STREAM_QUEUE_MAX bytes wait unsent for it, or a write makes no
 * progress for API_TIMEOUT seconds, its connection is closed.  Events
 * can be emitted from anywhere, evhttp's own callbacks included, so a
 * client is closed from the event loop, never from inside an emit.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "host.h"
#include "log.h"
#include "version.h"
#include "xmalloc.h"

struct api_client {
	TAILQ_ENTRY(api_client)		 entry;
	struct evhttp_request		*req;
	struct evhttp_connection	*evcon;
	int				 dropping;
};

static TAILQ_HEAD(, api_client)	clients = TAILQ_HEAD_INITIALIZER(clients);
static int			nclients;
static uint64_t			ndropped;
static struct events_sub	*sub;
static struct event		*reaper;	/* closes dropped clients */

int
api_stream_clients(void)
{
	return nclients;
}

uint64_t
api_stream_dropped(void)
{
	return ndropped;
}

static void
client_forget(struct api_client *c)
{
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	free(c);
	if (nclients == 0 && sub != NULL) {
		events_unsubscribe(sub);
		sub = NULL;
	}
}

/*
 * The client went away.  evhttp has taken the request off the
 * connection and left it to us; ending the reply frees it.
 */
static void
client_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct api_client	*c = arg;

	(void)evcon;
	if (evhttp_request_get_connection(c->req) == NULL)
		evhttp_send_reply_end(c->req);
	client_forget(c);
}

/* We end it: freeing the connection frees the request too. */
static void
client_drop(struct api_client *c)
{
	struct evhttp_connection	*evcon = c->evcon;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	client_forget(c);
	evhttp_connection_free(evcon);
}

static size_t
client_unsent(const struct api_client *c)
{
	struct bufferevent	*bev;

	bev = evhttp_connection_get_bufferevent(c->evcon);
	return evbuffer_get_length(bufferevent_get_output(bev));
}

static void
client_send(struct api_client *c, const char *line, size_t len)
{
	struct evbuffer	*b;
	size_t		 unsent = client_unsent(c);

	if (c->dropping)
		return;
	if (unsent + len > API_STREAM_QUEUE_MAX) {
		/* log_info: a warning would be an event, sent to us */
		log_info("API: event stream client dropped: %zu bytes unread",
		    unsent);
		ndropped++;
		c->dropping = 1;
		event_active(reaper, EV_TIMEOUT, 0);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	evbuffer_add(b, line, len);
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
}

static void
reaper_cb(int fd, short ev, void *arg)
{
	struct api_client	*c, *next;

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (c->dropping)
			client_drop(c);
}

static char *
line_of(json_t *j, size_t *len)
{
	char	*s;

	if (j == NULL ||
	    (s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		fatalx("cannot build an event");
	json_decref(j);
	*len = strlen(s);
	s = xreallocarray(s, *len + 2, 1);
	s[(*len)++] = '\n';
	s[*len] = '\0';
	return s;
}

static void
api_stream_event_cb(const struct hevent *ev, void *arg)
{
	struct api_client	*c, *next;
	char			*line;
	size_t			 len;

	(void)arg;
	switch (ev->type) {
	case HEV_CONN_OPENED:
	case HEV_CONN_BYTES:
	case HEV_CONN_CLOSED:
		return;
	default:
		break;
	}
	line = line_of(api_json_event(ev), &len);
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		client_send(c, line, len);
	free(line);
}

static void
api_stream_hello(struct api_client *c)
{
	struct timespec	 ts;
	char		*line;
	size_t		 len;

	clock_gettime(CLOCK_REALTIME, &ts);
	line = line_of(json_pack("{s:I, s:o, s:s, s:s}", "seq",
	    (json_int_t)events_last_seq(), "time", api_json_time(&ts),
	    "event", "stream-start", "version", PORTHOLE_VERSION), &len);
	client_send(c, line, len);
	free(line);
}

void
api_stream_start(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct api_client		*c;
	struct timeval			 wtv = { API_TIMEOUT, 0 };

	if (nclients >= API_STREAM_CLIENTS) {
		api_reply_error(req, 503, "too many event stream clients "
		    "(%d)", API_STREAM_CLIENTS);
		return;
	}
	if (reaper == NULL &&
	    (reaper = evtimer_new(host->base, reaper_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	evcon = evhttp_request_get_connection(req);
	c = xcalloc(1, sizeof *c);
	c->req = req;
	c->evcon = evcon;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	if (sub == NULL)
		sub = events_subscribe(api_stream_event_cb, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/x-ndjson");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	evhttp_connection_set_closecb(evcon, client_close_cb, c);
	/* An idle stream is fine; a write that does not drain is not. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon),
	    NULL, &wtv);
	api_stream_hello(c);
}

void
api_stream_close_all(void)
{
	struct api_client	*c;

	while ((c = TAILQ_FIRST(&clients)) != NULL)
		client_drop(c);
	if (reaper != NULL)
		event_free(reaper);
	reaper = NULL;
}
