/*
 * phguests: many simulated guests for bench/scale.  Each guest is one
 * control session, on its own Unix endpoint DIR/gN.sock, speaking the
 * protocol with proto/'s code as porthole-guest does: HELLO, WELCOME (no
 * key: a WELCOME that asks for AUTH ends the run), one EXPOSE per
 * forward (TCP, 127.0.0.1, port BASE + N * FORWARDS + K), and PONG to
 * every PING, the sessions held open until SIGTERM or SIGINT.
 *
 * When every EXPOSE has its EXPOSED it prints one line of figures
 * (times from the first EXPOSE it sent) and writes READYFILE, for the
 * script to wait on:
 *
 *	guests N forwards M listening L refused R failed F
 *	first_to_last_ms T expose_to_exposed_ms p50 P p99 Q max X
 *
 * Usage: phguests -d DIR -n GUESTS -f FORWARDS -p BASE -r READYFILE
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "frameio.h"
#include "log.h"
#include "number.h"
#include "proto.h"
#include "xmalloc.h"

#define PHG_GUESTS_MAX		100000
#define PHG_FORWARDS_MAX	65535

struct guest {
	int			 n;
	struct bufferevent	*bev;
	int			 welcomed;
	uint32_t		 nexposed;
	double			*sent;		/* per forward, when sent */
};

static struct event_base	*base;
static struct guest		*guests;
static int			 nguests, nforwards, base_port;
static const char		*dir, *readyfile;
static uint64_t			 total_exposed, nlistening, nrefused, nfailed;
static double			*latency;	/* EXPOSE to EXPOSED, ms */
static double			 first_sent = -1, last_exposed;

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(void)
{
	size_t	n = total_exposed;
	FILE	*f;

	qsort(latency, n, sizeof *latency, cmp_double);
	printf("guests %d forwards %zu listening %llu refused %llu failed "
	    "%llu first_to_last_ms %.1f expose_to_exposed_ms p50 %.2f p99 "
	    "%.2f max %.2f\n", nguests, n, (unsigned long long)nlistening,
	    (unsigned long long)nrefused, (unsigned long long)nfailed,
	    last_exposed - first_sent, latency[n / 2],
	    latency[n * 99 / 100], latency[n - 1]);
	fflush(stdout);
	if ((f = fopen(readyfile, "w")) == NULL)
		fatal("%s", readyfile);
	fclose(f);
}

static void
send_exposes(struct guest *g)
{
	struct ph_msg	m = { .type = PH_EXPOSE };
	int		k;

	m.u.expose.proto = IPPROTO_TCP;
	addr_loopback(AF_INET, &m.u.expose.addr);
	strlcpy(m.u.expose.process, "phguests", sizeof m.u.expose.process);
	for (k = 0; k < nforwards; k++) {
		m.u.expose.id = (uint32_t)k + 1;
		m.u.expose.port = (uint16_t)(base_port + g->n * nforwards + k);
		g->sent[k] = now_ms();
		if (first_sent < 0)
			first_sent = g->sent[k];
		ph_bufferevent_send(g->bev, &m);
	}
}

static void
on_exposed(struct guest *g, const struct ph_exposed *e)
{
	double	t = now_ms();

	if (e->id == 0 || e->id > (uint32_t)nforwards || g->sent[e->id - 1] < 0)
		return;		/* a second verdict (re-decided): not timed */
	latency[total_exposed++] = t - g->sent[e->id - 1];
	g->sent[e->id - 1] = -1;
	last_exposed = t;
	if (e->verdict == PH_BOUND || e->verdict == PH_REWRITTEN)
		nlistening++;
	else if (e->verdict == PH_REFUSED)
		nrefused++;
	else
		nfailed++;
	if (total_exposed == (uint64_t)nguests * nforwards)
		report();
}

static void
dispatch(struct guest *g, const struct ph_msg *m)
{
	struct ph_msg	pong = { .type = PH_PONG };

	switch (m->type) {
	case PH_WELCOME:
		if (m->u.welcome.auth != PH_AUTH_NONE)
			fatalx("guest %d: the host asks for a key", g->n);
		g->welcomed = 1;
		send_exposes(g);
		break;
	case PH_EXPOSED:
		on_exposed(g, &m->u.exposed);
		break;
	case PH_PING:
		pong.u.ping.nonce = m->u.ping.nonce;
		ph_bufferevent_send(g->bev, &pong);
		break;
	case PH_ERROR:
		log_warnx("guest %d: host says error %u: %s", g->n,
		    m->u.error.code, m->u.error.message);
		break;
	default:
		break;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct guest	*g = arg;
	struct ph_msg	 m;
	const char	*err;
	int		 r;

	while ((r = ph_evbuffer_read(bufferevent_get_input(bev),
	    PH_PAYLOAD_MAX, &m, &err)) != PH_FRAME_MORE) {
		if (r == PH_FRAME_BAD)
			fatalx("guest %d: bad frame: %s", g->n, err);
		if (r == PH_FRAME_OK)
			dispatch(g, &m);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct guest	*g = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fatalx("guest %d: the host closed its session", g->n);
}

static void
guest_start(struct guest *g)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct ph_msg		 m = { .type = PH_HELLO };
	int			 fd;

	if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s/g%d.sock",
	    dir, g->n) >= sizeof sun.sun_path)
		fatalx("%s: path too long", dir);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket (raise RLIMIT_NOFILE?)");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("connect %s", sun.sun_path);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	g->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (g->bev == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(g->bev, read_cb, NULL, event_cb, g);
	bufferevent_enable(g->bev, EV_READ);
	m.u.hello.vmin = PH_PROTO_VERSION_MIN;
	m.u.hello.vmax = PH_PROTO_VERSION;
	arc4random_buf(m.u.hello.boot_id, sizeof m.u.hello.boot_id);
	strlcpy(m.u.hello.version, "phguests", sizeof m.u.hello.version);
	snprintf(m.u.hello.name, sizeof m.u.hello.name, "scale-%d", g->n);
	ph_bufferevent_send(g->bev, &m);
}

static void
stop_cb(int sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	event_base_loopbreak(base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: phguests -d DIR -n GUESTS -f FORWARDS "
	    "-p BASE -r READYFILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct event	*sig[2];
	int		 ch, i;

	log_init("phguests", 1, 0);
	while ((ch = getopt(argc, argv, "d:f:n:p:r:")) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'f': nforwards = number_arg("-f", optarg, 1,
		    PHG_FORWARDS_MAX); break;
		case 'n': nguests = number_arg("-n", optarg, 1,
		    PHG_GUESTS_MAX); break;
		case 'p': base_port = number_arg("-p", optarg, 1, 65535); break;
		case 'r': readyfile = optarg; break;
		default: usage();
		}
	}
	if (dir == NULL || readyfile == NULL || nguests == 0 ||
	    nforwards == 0 || base_port == 0)
		usage();
	if ((long)base_port + (long)nguests * nforwards - 1 > 65535)
		fatalx("ports from %d for %d x %d forwards pass 65535",
		    base_port, nguests, nforwards);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	sig[0] = evsignal_new(base, SIGTERM, stop_cb, NULL);
	sig[1] = evsignal_new(base, SIGINT, stop_cb, NULL);
	evsignal_add(sig[0], NULL);
	evsignal_add(sig[1], NULL);
	guests = xcalloc((size_t)nguests, sizeof *guests);
	latency = xcalloc((size_t)nguests * nforwards, sizeof *latency);
	for (i = 0; i < nguests; i++) {
		guests[i].n = i;
		guests[i].sent = xcalloc((size_t)nforwards, sizeof(double));
		guest_start(&guests[i]);
	}
	event_base_dispatch(base);
	for (i = 0; i < nguests; i++) {
		bufferevent_free(guests[i].bev);
		free(guests[i].sent);
	}
	free(guests);
	free(latency);
	event_free(sig[0]);
	event_free(sig[1]);
	event_base_free(base);
	return 0;
}
