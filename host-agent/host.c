/*
 * porthole-host: listens for guest agents, decides every guest bind by
 * policy before it opens any socket, and relays each client connection
 * into the VM.
 */
#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "host.h"
#include "log.h"
#include "number.h"
#include "version.h"
#include "xmalloc.h"

struct host	*host;
static int	 api_set;	/* -a was given */

#define OPT_KEEPALIVE	1000
#define OPT_LIMIT	1001	/* long-only --max-... flags: limits.c */
#define OPT_NEW_KEY	1002
#define OPT_LOCAL_PEERS	1003
#define OPT_ANY_PORT	1004

static const struct option longopts[] = {
	{ "any-source-port",	no_argument,		NULL, OPT_ANY_PORT },
	{ "api",		required_argument,	NULL, 'a' },
	{ "bind-policy",	required_argument,	NULL, 'b' },
	{ "debug",		no_argument,		NULL, 'd' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "key",		required_argument,	NULL, 'K' },
	{ "local-peers",	no_argument,		NULL, OPT_LOCAL_PEERS },
	{ "new-key",		required_argument,	NULL, OPT_NEW_KEY },
	{ "keepalive",		required_argument,	NULL, OPT_KEEPALIVE },
	{ "listen",		required_argument,	NULL, 'l' },
	{ "loopback-only",	no_argument,		NULL, 'L' },
	{ "check",		no_argument,		NULL, 'n' },
	{ "policy",		required_argument,	NULL, 'f' },
	{ "reach",		required_argument,	NULL, 'R' },
	{ "sock-dir",		required_argument,	NULL, 'S' },
	{ "udp-timeout",	required_argument,	NULL, 'u' },
	{ "udp-flows",		required_argument,	NULL, 'U' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "max-frame",		required_argument,	NULL, OPT_LIMIT },
	{ "max-forwards",	required_argument,	NULL, OPT_LIMIT },
	{ "max-binds",		required_argument,	NULL, OPT_LIMIT },
	{ "max-connections",	required_argument,	NULL, OPT_LIMIT },
	{ "max-forward-connections", required_argument,	NULL, OPT_LIMIT },
	{ "max-pending-opens",	required_argument,	NULL, OPT_LIMIT },
	{ "max-sessions",	required_argument,	NULL, OPT_LIMIT },
	{ "max-unidentified",	required_argument,	NULL, OPT_LIMIT },
	{ "max-unidentified-total", required_argument,	NULL, OPT_LIMIT },
	{ "max-udp-buffer",	required_argument,	NULL, OPT_LIMIT },
	{ NULL,			0,			NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: porthole-host [-dnvV] [-a endpoint] [-l endpoint]... "
	    "[-b loopback|refuse|allow] [-L]\n"
	    "                     [-f policy-file] [--keepalive seconds] "
	    "[--max-LIMIT n]...\n"
	    "                     [-u udp-timeout] [-U udp-flows] [-K key-file] "
	    "[--local-peers]\n"
	    "                     [--any-source-port] [-S sock-dir|none] "
	    "[-R dest[=guest-side]]...\n"
	    "       porthole-host --new-key key-file\n");
	exit(status);
}

static void
host_add_endpoint(const char *s)
{
	struct guest_ep	*gep;
	char		 err[256];

	gep = xcalloc(1, sizeof *gep);
	gep->fd = -1;
	if (endpoint_parse(s, EP_LISTEN, &gep->ep, err, sizeof err) == -1 ||
	    endpoint_absolute(&gep->ep, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-host: -l: %s\n", err);
		exit(2);
	}
	TAILQ_INSERT_TAIL(&host->endpoints, gep, entry);
}

/* -K FILE: every guest proves this key, unless its block names one. */
static void
host_set_key(const char *path)
{
	char	err[512];

	if (auth_key_load(path, host->key, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-host: -K: %s\n", err);
		exit(2);
	}
	host->has_key = 1;
}

/* --new-key FILE: writes a key for -K, the policy file and the guest. */
static void __attribute__((noreturn))
host_new_key(const char *path)
{
	char	err[512];

	if (auth_key_new(path, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-host: --new-key: %s\n", err);
		exit(1);
	}
	printf("porthole-host: a new key is in %s (mode 600): give the same "
	    "file to porthole-guest -K\n", path);
	exit(0);
}

/* -S DIR, "none", or the default (arg NULL): sockdir.c */
static void
host_set_sockdir(const char *arg)
{
	char	err[256];

	if (sockdir_configure(arg, err, sizeof err) == -1 && arg != NULL) {
		fprintf(stderr, "porthole-host: -S: %s\n", err);
		exit(2);
	}
}

/* -a ENDPOINT, or the default (arg NULL) */
static void
host_set_api(const char *arg)
{
	char	err[256];

	if (api_configure(arg, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-host: -a: %s\n", err);
		exit(2);
	}
	api_set = 1;
}

static void
host_signal_cb(int sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGINT:
	case SIGTERM:
		log_info("SIG%s received, exiting", sigabbrev_np(sig));
		event_base_loopbreak(host->base);
		break;
	case SIGHUP:
		policy_reload();
		break;
	}
}

/* Many forwarded connections need many descriptors: take what we may. */
static void
host_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	host->nofile = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
		else
			host->nofile = rl.rlim_cur;
	}
}

static void
host_print_config(void)
{
	struct guest_ep	*gep;
	enum policy_mode mode = policy_effective(&host->policy);
	int		 i;

	TAILQ_FOREACH(gep, &host->endpoints, entry)
		printf("listen %s\n", gep->ep.str);
	api_print_config();
	printf("sock-dir %s\n", host->sockdir[0] != '\0' ? host->sockdir :
	    "none (guest Unix sockets refused)");
	/* What guests may reach: said even when it is nothing. */
	if (host->nreach_cli == 0)
		printf("reach none by -R\n");
	for (i = 0; i < host->nreach_cli; i++)
		printf("%s\t# -R, entry %u, every guest\n",
		    host->reach_cli[i].text, host->reach_cli[i].id);
	printf("bind-policy %s%s\n", policy_mode_name(mode),
	    host->policy.loopback_only ? " (loopback-only)" : "");
	/* Who may speak for a guest: said even when it is the default. */
	printf("guest-key %s\n", host->has_key ? "-K (every guest "
	    "without a key line of its own)" : "none but policy key lines");
	printf("vsock-peers %s%s\n", host->local_peers ? "any CID "
	    "(--local-peers)" : "CID 3 and up", host->any_source_port ?
	    ", any source port (--any-source-port)" : ", source port 1023 "
	    "or lower");
	if (host->policy.file != NULL) {
		printf("policy-file %s\n", host->policy.file->path);
		policy_print(stdout, host->policy.file);
	}
	if (log_getverbose() == 0)
		return;
	printf("keepalive %d\n", host->keepalive);
	printf("udp-timeout %d\n", host->udp_timeout);
	printf("udp-flows %d\n", host->udp_max_flows);
	for (i = 0; i < LIMIT_NKINDS; i++)
		printf("%s %u\n", limit_flag(i), host->limits[i]);
}

static void
host_set_option(int ch, int idx, const char *arg)
{
	char		 err[256];

	if (ch == OPT_KEEPALIVE) {
		host->keepalive = number_arg("--keepalive", arg, 0, 3600);
		return;
	}
	if (limits_set(host->limits, longopts[idx].name, arg, err,
	    sizeof err) == -1) {
		fprintf(stderr, "porthole-host: %s\n", err);
		exit(2);
	}
}

/*
 * Reads the policy file (-f) before anything is opened: every error is
 * printed as FILE:LINE and the agent does not start.  The path is made
 * absolute, for SIGHUP after daemon() changed directory.
 */
static void
host_load_policy(const char *path, int mode_from_flag)
{
	char	*abs, cwd[PATH_MAX];

	if (path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
		xasprintf(&abs, "%s/%s", cwd, path);
	else
		abs = xstrdup(path);
	if (policy_apply(abs, mode_from_flag, NULL) == -1) {
		fprintf(stderr, "porthole-host: %s: bad policy file\n", path);
		exit(1);
	}
	free(abs);
}

/* Runs the event loop until a signal ends it. */
static void
host_loop(void)
{
	struct event	*sig[3];
	struct guest_ep	*gep;
	int		 sigs[3] = { SIGINT, SIGTERM, SIGHUP }, i;

	host->base = event_base_new();
	if (host->base == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 3; i++) {
		sig[i] = evsignal_new(host->base, sigs[i], host_signal_cb, NULL);
		evsignal_add(sig[i], NULL);
	}
	TAILQ_FOREACH(gep, &host->endpoints, entry)
		listener_start(gep);
	api_start();
	log_info("porthole-host %s started, bind policy %s%s", PORTHOLE_VERSION,
	    policy_mode_name(policy_effective(&host->policy)),
	    host->policy.loopback_only ? " (loopback-only)" : "");
	event_base_dispatch(host->base);

	session_end_all("host agent exiting");
	reach_stop();
	sockdir_free();
	limits_warn_flush_all();
	api_close();
	TAILQ_FOREACH(gep, &host->endpoints, entry)
		listener_close(gep);
	for (i = 0; i < 3; i++)
		event_free(sig[i]);
	event_base_free(host->base);
}

static void
host_open_endpoints(void)
{
	struct guest_ep	*gep;
	char		 err[512];

	TAILQ_FOREACH(gep, &host->endpoints, entry)
		if (listener_open(gep, err, sizeof err) == -1)
			fatalx("cannot listen: %s", err);
	if (api_open(err, sizeof err) == -1)
		fatalx("API: %s", err);
}

/* What the command line asks for, beyond the settings kept in host. */
struct options {
	const char	*policy_path;
	int		 debug, check, verbose;
	int		 mode_flag;	/* -b was given */
};

/* One option; exits with a clear message on a bad value. */
static void
host_option(int ch, int idx, struct options *o)
{
	switch (ch) {
	case OPT_KEEPALIVE:
	case OPT_LIMIT:
		host_set_option(ch, idx, optarg);
		break;
	case OPT_NEW_KEY:
		host_new_key(optarg);
	case OPT_LOCAL_PEERS:
		host->local_peers = 1;
		break;
	case OPT_ANY_PORT:
		host->any_source_port = 1;
		break;
	case 'K':
		host_set_key(optarg);
		break;
	case 'a':
		host_set_api(optarg);
		break;
	case 'b':
		if (policy_mode_parse(optarg, &host->policy.mode) == -1) {
			fprintf(stderr, "porthole-host: -b: \"%s\" is "
			    "not loopback, refuse or allow\n", optarg);
			exit(2);
		}
		o->mode_flag = 1;
		break;
	case 'd':
		o->debug = 1;
		break;
	case 'f':
		o->policy_path = optarg;
		break;
	case 'h':
		usage(0);
	case 'l':
		host_add_endpoint(optarg);
		break;
	case 'L':
		host->policy.loopback_only = 1;
		break;
	case 'n':
		o->check = 1;
		break;
	case 'R':
		reach_add_cli(optarg);
		break;
	case 'S':
		host_set_sockdir(optarg);
		break;
	case 'u':
		host->udp_timeout = number_arg("-u", optarg, 1, 86400);
		break;
	case 'U':
		host->udp_max_flows = number_arg("-U", optarg, 1, 65536);
		break;
	case 'v':
		o->verbose++;
		break;
	case 'V':
		printf("porthole-host %s (protocol %u)\n",
		    PORTHOLE_VERSION, PH_PROTO_VERSION);
		exit(0);
	default:
		usage(2);
	}
}

/* What the flags that widen who may speak for a guest give up, said. */
static void
host_warn_trust(void)
{
	if (host->any_source_port)
		log_warnx("--any-source-port: on a vsock endpoint any process "
		    "in a VM, not only its guest agent, may speak for it");
	if (host->local_peers)
		log_warnx("--local-peers: vsock CIDs 0-2 are accepted as "
		    "guests: with vsock_loopback, any user of this host may "
		    "act as one");
}

/* Opens what it listens on, daemonises, and runs until a signal. */
static void
host_run(const struct options *o)
{
	/* stderr until daemonised, so that start-up errors are seen */
	log_init("porthole-host", 1, o->verbose);
	events_init();
	metrics_init();
	if (host->policy.loopback_only && host->policy.mode == POLICY_ALLOW)
		log_warnx("--loopback-only: bind policy allow capped at "
		    "loopback");
	if (host->policy.file != NULL)
		policy_log_loaded(host->policy.file, "loaded");
	host_warn_trust();
	signal(SIGPIPE, SIG_IGN);
	host_raise_nofile();
	host_open_endpoints();
	if (!o->debug) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("porthole-host", 0, o->verbose);
	}
	privport_init(&host->policy);	/* before any guest's bind */
	host_loop();
}

int
main(int argc, char **argv)
{
	struct options	 o = { 0 };
	int		 ch, idx;

	host = xcalloc(1, sizeof *host);
	TAILQ_INIT(&host->endpoints);
	TAILQ_INIT(&host->sessions);
	host->policy.mode = POLICY_LOOPBACK;
	host->udp_timeout = HOST_UDP_TIMEOUT;
	host->udp_max_flows = HOST_UDP_FLOWS;
	host->started = time(NULL);
	host->keepalive = HOST_KEEPALIVE;
	limits_init(host->limits);
	host_set_sockdir(NULL);
	if (auth_init() == -1)
		fatalx("libsodium cannot start");
	while ((ch = getopt_long(argc, argv, "a:b:df:hK:l:LnR:S:u:U:vV", longopts,
	    &idx)) != -1)
		host_option(ch, idx, &o);
	if (optind != argc) {
		fprintf(stderr, "porthole-host: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(2);
	}
	if (TAILQ_EMPTY(&host->endpoints))
		host_add_endpoint("vsock:6440");
	if (o.policy_path != NULL)
		host_load_policy(o.policy_path, o.mode_flag);
	if (!api_set)
		host_set_api(NULL);
	if (o.check) {
		log_setverbose(o.verbose);
		host_print_config();
		exit(0);
	}
	host_run(&o);
	return 0;
}
