/*
 * The local API: HTTP/1.1 with JSON bodies (libevent's evhttp, jansson)
 * on a Unix socket of mode 0600 in a directory only its owner can enter.
 * It never listens on a guest endpoint.  Each request's peer is checked
 * with SO_PEERCRED: only the agent's own uid and root are answered.
 *
 *	GET /v1/status, /v1/guests, /v1/forwards, /v1/policy, /metrics
 *	GET /v1/reaches		reverse entries (api_reach.c)
 *	GET /v1/events		a stream of JSON lines (api_stream.c)
 *	PUT /v1/policy		{"mode": "refuse|loopback|allow"}
 *
 * Every error is a JSON object {"error": "...", "status": N}.  Requests
 * that evhttp itself rejects before they reach us (not HTTP, headers or
 * a body over its hard limits) get its own status line and HTML page.
 * Nothing here blocks: replies are bounded by the state they describe,
 * and a client that does not read is dropped by evhttp's timeout.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "host.h"
#include "log.h"

static struct {
	struct endpoint	 ep;
	int		 fd;
	int		 is_default;
	struct evhttp	*http;
} api = { .fd = -1 };

const char *
api_endpoint(void)
{
	return api.fd != -1 || api.http != NULL ? api.ep.str : "none";
}

static void
api_reply_buf(struct evhttp_request *req, int status, const char *type,
    struct evbuffer *b)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, status, NULL, b);
}

/* Sends j (and drops the reference to it). */
static void
api_reply_json(struct evhttp_request *req, int status, json_t *j)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	if (b == NULL || j == NULL ||
	    (s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		fatalx("cannot build a JSON reply");
	evbuffer_add_printf(b, "%s\n", s);
	free(s);
	json_decref(j);
	api_reply_buf(req, status, "application/json", b);
	evbuffer_free(b);
}

void
api_reply_error(struct evhttp_request *req, int status, const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_reply_json(req, status, json_pack("{s:o, s:i}", "error",
	    api_json_text(msg), "status", status));
}

/* Only the agent's own user and root may use the API. */
static int
api_peer_allowed(struct evhttp_request *req, uid_t *uid)
{
	struct evhttp_connection	*evcon;
	struct ucred			 cr;
	socklen_t			 len = sizeof cr;
	int				 fd;

	*uid = (uid_t)-1;
	evcon = evhttp_request_get_connection(req);
	if (evcon == NULL)
		return 0;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return 0;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void
api_get_status(struct evhttp_request *req)
{
	api_reply_json(req, HTTP_OK, api_json_status());
}

static void
api_get_guests(struct evhttp_request *req)
{
	api_reply_json(req, HTTP_OK, api_json_guests());
}

static void
api_get_forwards(struct evhttp_request *req)
{
	api_reply_json(req, HTTP_OK, api_json_forwards());
}

static void
api_get_reaches(struct evhttp_request *req)
{
	api_reply_json(req, HTTP_OK, api_json_reaches());
}

static void
api_get_policy(struct evhttp_request *req)
{
	api_reply_json(req, HTTP_OK, api_json_policy());
}

static void
api_get_metrics(struct evhttp_request *req)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL)
		fatalx("evbuffer_new");
	metrics_render(b);
	api_reply_buf(req, HTTP_OK, "text/plain; version=0.0.4; "
	    "charset=utf-8", b);
	evbuffer_free(b);
}

/*
 * Tightening always works; loosening is refused (403) when the policy
 * says so (policy_set_mode()).  A change of the effective mode
 * re-decides every forward at once.
 */
static void
api_put_policy(struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	size_t			 len = evbuffer_get_length(in);
	enum policy_mode	 mode, before;
	char			 err[PH_REASON_MAX], why[PH_REASON_MAX];
	json_t			*j;
	int			 n = 0;

	if (len > API_BODY_MAX) {
		api_reply_error(req, 413, "body of %zu bytes is over the "
		    "limit of %d", len, API_BODY_MAX);
		return;
	}
	if (api_body_policy((const char *)evbuffer_pullup(in, -1), len,
	    &mode, err, sizeof err) == -1) {
		api_reply_error(req, HTTP_BADREQUEST, "%s", err);
		return;
	}
	before = policy_effective(&host->policy);
	if (policy_set_mode(&host->policy, mode, err, sizeof err) == -1) {
		log_info("API: policy %s refused: %s", policy_mode_name(mode),
		    err);
		api_reply_error(req, 403, "%s", err);
		return;
	}
	snprintf(why, sizeof why, "policy set to %s by the API (was %s)",
	    policy_mode_name(mode), policy_mode_name(before));
	log_info("API: %s", why);
	events_policy(why);
	if (policy_effective(&host->policy) != before)
		n = forward_redecide_all(why);
	j = api_json_policy();
	json_object_set_new(j, "forwards_changed", json_integer(n));
	api_reply_json(req, HTTP_OK, j);
}

static const struct api_route {
	const char	*path;
	void		(*get)(struct evhttp_request *);
	void		(*put)(struct evhttp_request *);
} api_routes[] = {
	{ "/v1/status",		api_get_status,		NULL },
	{ "/v1/guests",		api_get_guests,		NULL },
	{ "/v1/forwards",	api_get_forwards,	NULL },
	{ "/v1/reaches",	api_get_reaches,	NULL },
	{ "/v1/events",		api_stream_start,	NULL },
	{ "/v1/policy",		api_get_policy,		api_put_policy },
	{ "/metrics",		api_get_metrics,	NULL },
};

static const struct api_route *
api_route_find(const char *path)
{
	size_t	i;

	for (i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++)
		if (strcmp(path, api_routes[i].path) == 0)
			return &api_routes[i];
	return NULL;
}

static void
api_method_not_allowed(struct evhttp_request *req, const struct api_route *r)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    r->put != NULL ? "GET, PUT" : "GET");
	api_reply_error(req, 405, "method not allowed on %s (use %s)",
	    r->path, r->put != NULL ? "GET or PUT" : "GET");
}

static void
api_request_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const struct api_route	*r;
	const char		*path;
	uid_t			 uid;

	(void)arg;
	if (!api_peer_allowed(req, &uid)) {
		log_warnx("API: request from uid %d refused", (int)uid);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		api_reply_error(req, 403, "permission denied: uid %d is "
		    "neither the agent's user (%u) nor root", (int)uid,
		    (unsigned)geteuid());
		return;
	}
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || (r = api_route_find(path)) == NULL) {
		api_reply_error(req, HTTP_NOTFOUND, "no such resource: %.64s",
		    path != NULL ? path : "?");
		return;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		r->get(req);
		break;
	case EVHTTP_REQ_PUT:
		if (r->put != NULL) {
			r->put(req);
			break;
		}
		/* FALLTHROUGH */
	default:
		api_method_not_allowed(req, r);
		break;
	}
}

/*
 * -a ENDPOINT: unix:PATH, or a plain path; NULL for the default.  Only a
 * Unix socket: the API is never on a guest transport.
 */
int
api_configure(const char *arg, char *err, size_t errlen)
{
	char	path[API_PATH_MAX], spec[API_PATH_MAX + 8];

	api.is_default = arg == NULL;
	if (arg == NULL) {
		if (api_path_default(path, sizeof path) == -1) {
			snprintf(err, errlen, "default API socket path too "
			    "long: give --api");
			return -1;
		}
		snprintf(spec, sizeof spec, "unix:%s", path);
	} else if (strchr(arg, ':') == NULL)
		snprintf(spec, sizeof spec, "unix:%s", arg);
	else
		strlcpy(spec, arg, sizeof spec);
	if (endpoint_parse(spec, EP_LISTEN, &api.ep, err, errlen) == -1 ||
	    endpoint_absolute(&api.ep, err, errlen) == -1)
		return -1;
	if (api.ep.type != EP_UNIX) {
		snprintf(err, errlen, "the API listens on a Unix socket only "
		    "(unix:PATH), never on %s", api.ep.str);
		return -1;
	}
	return 0;
}

/* For -n: where the API listens. */
void
api_print_config(void)
{
	printf("api %s\n", api.ep.str);
}

/*
 * Opens the socket before daemonising, so that errors reach the user.
 * A default socket that another agent already serves is left to it, and
 * this agent runs without an API (with a warning).
 */
int
api_open(char *err, size_t errlen)
{
	if (api_path_prepare(api.ep.path, api.is_default, err, errlen) == -1)
		return -1;
	if ((api.fd = endpoint_listen(&api.ep, err, errlen)) == -1) {
		if (api.is_default && errno == EADDRINUSE) {
			log_warnx("API disabled: %s (give --api to serve "
			    "another socket)", err);
			return 0;
		}
		return -1;
	}
	return 0;
}

/* Starts serving, once the event loop exists. */
void
api_start(void)
{
	if (api.fd == -1)
		return;
	if ((api.http = evhttp_new(host->base)) == NULL ||
	    evhttp_accept_socket(api.http, api.fd) == -1)
		fatalx("cannot start the API on %s", api.ep.str);
	evhttp_set_allowed_methods(api.http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_POST | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT);
	evhttp_set_max_headers_size(api.http, API_HEADERS_MAX);
	evhttp_set_max_body_size(api.http, API_BODY_HARD_MAX);
	/*
	 * A body over the limit is read and dropped before the 413 goes out:
	 * closing with it unread made the client's next write fail (EPIPE)
	 * before it could read the answer, so it saw no 413 at all.
	 */
	if (evhttp_set_flags(api.http, EVHTTP_SERVER_LINGERING_CLOSE) == -1)
		fatalx("cannot set the API's lingering close");
	evhttp_set_timeout(api.http, API_TIMEOUT);
	evhttp_set_gencb(api.http, api_request_cb, NULL);
	log_info("API on %s", api.ep.str);
}

void
api_close(void)
{
	if (api.http != NULL) {
		api_stream_close_all();
		evhttp_free(api.http);	/* closes the socket */
		api.http = NULL;
	} else if (api.fd != -1)
		close(api.fd);
	if (api.fd != -1)
		endpoint_unlink(&api.ep);
	api.fd = -1;
}
