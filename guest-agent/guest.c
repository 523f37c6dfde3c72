/*
 * porthole-guest: watches the VM's listening sockets and asks the host
 * agent to forward them.  It only ever connects out; the one exception
 * is its local status socket (status.c), which only root and the
 * agent's own user may read and which reads nothing.
 */
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "number.h"
#include "version.h"
#include "xmalloc.h"

struct guest	*guest;

static const struct option longopts[] = {
	{ "connect",	required_argument,	NULL, 'c' },
	{ "daemon",	no_argument,		NULL, 'D' },
	{ "debug",	no_argument,		NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "ignore",	required_argument,	NULL, 'i' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "keepalive",	required_argument,	NULL, 'k' },
	{ "key",	required_argument,	NULL, 'K' },
	{ "name",	required_argument,	NULL, 'N' },
	{ "pidfile",	required_argument,	NULL, 'p' },
	{ "pool",	required_argument,	NULL, 'P' },
	{ "proxy-socket", required_argument,	NULL, 'r' },
	{ "reach-dir",	required_argument,	NULL, 'R' },
	{ "status",	required_argument,	NULL, 's' },
	{ "scan-interval", required_argument,	NULL, 'S' },
	{ "trigger",	required_argument,	NULL, 'w' },
	{ "user",	required_argument,	NULL, 'u' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "unix",	required_argument,	NULL, 'x' },
	{ NULL,		0,			NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: porthole-guest [-DdvV] [-c endpoint] [-i port[/tcp|/udp]]... "
	    "[-k seconds] [-K key-file] [-N name]\n"
	    "                      [-P streams] [-p pidfile] [-S ms] [-s path] "
	    "[-u user] [-w auto|listen|exec|none]\n"
	    "                      [-x path[=name]|none]... [-R reach-dir]\n"
	    "       porthole-guest [-j] [-s path] status\n");
	exit(status);
}

static void __attribute__((noreturn))
bad_arg(const char *opt, const char *fmt, const char *arg)
{
	fprintf(stderr, "porthole-guest: %s: ", opt);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

/*
 * Every forwarded connection costs two descriptors here (the target and
 * its stream): take all the soft limit may have.
 */
static void
guest_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/* The protocol carries printable ASCII only (and so do logs and JSON). */
static int
guest_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * -K FILE, read now, as root, before the worker loses its view of the
 * file system.  It must be root's and readable by root only (auth.c).
 */
static void
guest_set_key(const char *path)
{
	char	err[512];

	if (auth_key_load(path, guest->key, err, sizeof err) == -1)
		bad_arg("-K", "%s", err);
	guest->has_key = 1;
}

/* -i PORT, PORT/tcp or PORT/udp */
static void
guest_add_ignore(const char *arg)
{
	char		 buf[32], *slash;
	struct ignore	*ig;

	if (guest->nignore >= GUEST_MAX_IGNORE)
		bad_arg("-i", "more than 64 ports ignored%s", "");
	if (strlcpy(buf, arg, sizeof buf) >= sizeof buf)
		bad_arg("-i", "\"%s\" is not PORT[/tcp|/udp]", arg);
	ig = &guest->ignore[guest->nignore];
	ig->proto = 0;
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		if (strcmp(slash, "tcp") == 0)
			ig->proto = IPPROTO_TCP;
		else if (strcmp(slash, "udp") == 0)
			ig->proto = IPPROTO_UDP;
		else
			bad_arg("-i", "\"%s\" is not PORT[/tcp|/udp]", arg);
	}
	ig->port = (uint16_t)number_arg("-i", buf, 1, 65535);
	guest->nignore++;
}

/* The kernel's boot id: the host can tell a rebooted VM from a restart. */
static void
guest_boot_id(void)
{
	char	 buf[64], *p;
	ssize_t	 n;
	int	 fd, j = 0, v;

	arc4random_buf(guest->boot_id, sizeof guest->boot_id);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* "xxxxxxxx-xxxx-...": 32 hex digits, dashes skipped */
	for (p = buf; *p != '\0' && j < PH_BOOTID_LEN * 2; p++) {
		if (*p == '-' || *p == '\n')
			continue;
		if ((v = hexval(*p)) == -1)
			return;
		if (j % 2 == 0)
			guest->boot_id[j / 2] = (uint8_t)(v << 4);
		else
			guest->boot_id[j / 2] |= (uint8_t)v;
		j++;
	}
}

static void
guest_signal_cb(int sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (sig == SIGHUP) {
		log_info("SIGHUP received: rescanning binds");
		watch_scan();
		return;
	}
	log_info("SIG%s received, exiting", sigabbrev_np(sig));
	event_base_loopbreak(guest->base);
}

/* What the command line asks for, beyond the settings kept in guest. */
struct options {
	const char	*connect_to, *pidfile, *status_path, *user;
	const char	*proxy_path;
	int		 debug, detach, verbose, json_out;
};

/* One option; exits with a clear message on a bad value. */
static void
guest_option(int ch, struct options *o)
{
	const char	*why;

	switch (ch) {
	case 'c':
		o->connect_to = optarg;
		break;
	case 'D':
		o->detach = 1;
		break;
	case 'd':
		o->debug = 1;
		break;
	case 'h':
		usage(0);
	case 'i':
		guest_add_ignore(optarg);
		break;
	case 'j':
		o->json_out = 1;
		break;
	case 'k':
		guest->keepalive = number_arg("-k", optarg, 0, 3600);
		break;
	case 'K':
		guest_set_key(optarg);
		break;
	case 'r':
		o->proxy_path = optarg;
		break;
	case 'R':
		if (optarg[0] != '/' || strlcpy(guest->reach_dir, optarg,
		    sizeof guest->reach_dir) >= sizeof guest->reach_dir - 64)
			bad_arg("-R", "\"%s\" is not an absolute path short "
			    "enough for a socket in it", optarg);
		break;
	case 's':
		o->status_path = optarg;
		break;
	case 'N':
		if (strlcpy(guest->name, optarg, sizeof guest->name) >=
		    sizeof guest->name)
			bad_arg("-N", "name \"%s\" is longer than 63 bytes",
			    optarg);
		if (!guest_name_ok(guest->name))
			bad_arg("-N", "name \"%s\" is not printable ASCII",
			    optarg);
		break;
	case 'p':
		o->pidfile = optarg;
		break;
	case 'P':
		guest->pool = number_arg("-P", optarg, 0, PH_POOL_MAX);
		break;
	case 'S':
		guest->scan_ms = number_arg("-S", optarg, 10,
		    GUEST_SCAN_MAX_MS);
		break;
	case 'u':
		o->user = optarg;
		break;
	case 'v':
		o->verbose++;
		break;
	case 'w':
		if (!scan_trigger_ok(optarg))
			bad_arg("-w", "\"%s\" is not auto, listen, exec or none",
			    optarg);
		guest->trigger = optarg;
		break;
	case 'x':
		if (usock_add(optarg, &why) == -1)
			bad_arg("-x", "%s", why);
		break;
	case 'V':
		printf("porthole-guest %s (protocol %u)\n", PORTHOLE_VERSION,
		    PH_PROTO_VERSION);
		exit(0);
	default:
		usage(2);
	}
}

/* Runs the agent until a signal ends it. */
static void
guest_run(const struct options *o)
{
	struct event	*sig[3];
	int		 sigs[3] = { SIGINT, SIGTERM, SIGHUP }, i;

	/* stderr until detached, so that start-up errors are seen */
	log_init("porthole-guest", o->debug || o->detach, o->verbose);
	if (o->detach || o->pidfile != NULL)
		daemon_pidfile(o->pidfile != NULL ? o->pidfile : GUEST_PIDFILE);
	status_open(o->status_path);
	pxsock_open(o->proxy_path);
	if (o->detach) {
		daemon_detach();
		log_init("porthole-guest", 0, o->verbose);
	} else
		daemon_write_pidfile();
	notify_init();
	signal(SIGPIPE, SIG_IGN);
	guest_boot_id();
	if ((guest->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 3; i++) {
		sig[i] = evsignal_new(guest->base, sigs[i], guest_signal_cb,
		    NULL);
		evsignal_add(sig[i], NULL);
	}
	log_info("porthole-guest %s started, host %s, guest name %s",
	    PORTHOLE_VERSION, guest->ep.str, guest->name);
	guest_raise_nofile();
	status_start();
	pxsock_start();
	scan_start();		/* the bind triggers need root */
	privsep_start(o->user);
	gsession_start();
	nat_set_source(privsep_nat_dump, privsep_nat_subscribe);
	nat_start();
	watch_start();
	notify_watchdog_start(guest->base);
	event_base_dispatch(guest->base);
	notify_stopping();
	status_stop();
	pxsock_stop();
	gsession_stop();
	reach_stop();		/* its sockets' files go while the helper is here */
	gstream_stop();
	scan_stop();
	watch_stop();
	nat_stop();
	daemon_exit();
	privsep_stop();
	for (i = 0; i < 3; i++)
		event_free(sig[i]);
	event_base_free(guest->base);
}

int
main(int argc, char **argv)
{
	struct options	 o = { .connect_to = "vsock:2:6440" };
	char		 err[256];
	int		 ch;

	guest = xcalloc(1, sizeof *guest);
	if (gethostname(guest->name, sizeof guest->name) == -1 ||
	    !guest_name_ok(guest->name))
		strlcpy(guest->name, "guest", sizeof guest->name);
	guest->keepalive = GUEST_KEEPALIVE;
	guest->pool = GUEST_POOL_DEFAULT;
	guest->trigger = "auto";
	guest->usock_defaults = 1;
	strlcpy(guest->reach_dir, GUEST_REACH_DIR, sizeof guest->reach_dir);
	if (auth_init() == -1)
		bad_arg("-K", "%s", "libsodium cannot start");
	while ((ch = getopt_long(argc, argv, "c:Ddhi:jk:K:N:p:P:r:R:S:s:u:vVw:x:",
	    longopts, NULL)) != -1)
		guest_option(ch, &o);
	if (argc - optind == 1 && strcmp(argv[optind], "status") == 0) {
		free(guest);	/* a client only */
		return status_show(o.status_path, o.json_out);
	}
	if (optind != argc) {
		fprintf(stderr, "porthole-guest: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(2);
	}
	if (endpoint_parse(o.connect_to, EP_CONNECT, &guest->ep, err,
	    sizeof err) == -1)
		bad_arg("-c", "%s", err);
	if (o.detach && o.debug)
		bad_arg("-D", "cannot be used with -d%s", "");
	guest_run(&o);
	return 0;
}
