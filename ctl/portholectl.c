/*
 * portholectl: what porthole-host forwards, what it refused and why,
 * live events, and the bind policy, from the agent's local API.
 *
 *	portholectl [-j] [-a endpoint] status|ls|events|policy [mode]
 *
 * Exit status 0 on success, 1 when the agent cannot be reached or says
 * no (one line on stderr says why), 2 for a usage error.
 */
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ctl.h"
#include "version.h"

static int	json_out;	/* --json: print the agent's JSON */
static int	api_default;	/* no -a: check the socket's directory */

static const struct option longopts[] = {
	{ "api",	required_argument,	NULL, 'a' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: portholectl [-jV] [-a endpoint] command\n"
	    "commands:\n"
	    "  status          the agent, its policy, guests and counts\n"
	    "  ls              every forward: verdict, host address, reason\n"
	    "  events          follow events until interrupted\n"
	    "  policy [mode]   show the bind policy, or set it "
	    "(refuse|loopback|allow)\n");
	exit(status);
}

static void
print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) == -1)
		ctl_die("cannot print JSON");
	printf("\n");
}

/*
 * The default socket's directory passes porthole-host's own checks on it
 * (api_path_prepare()) before anything connects: ours, and closed to
 * others.  Anybody can make /tmp/porthole-UID before the agent does,
 * and a socket in it would be theirs, answering with what they like.
 * No directory is no agent.  A path given with -a is the user's choice
 * (root reaches other users' agents that way).
 */
static void
check_default_dir(const char *path)
{
	struct stat	st;
	char		err[API_PATH_MAX + 160], dir[API_PATH_MAX];

	if (api_path_prepare(path, 0, err, sizeof err) == 0)
		return;
	strlcpy(dir, path, sizeof dir);
	if (lstat(dirname(dir), &st) == -1 && errno == ENOENT)
		ctl_die("porthole-host is not running (no API at %s)", path);
	ctl_die("not connecting to %s: %s", path, err);
}

/* Connects to the agent, once its directory passed when it must. */
static void
open_api(struct ctl_conn *c, const char *api)
{
	if (api_default)
		check_default_dir(api);
	ctl_open(c, api);
}

/* GET target; the reply's JSON, or a clear error. */
static json_t *
get_json(const char *api, const char *target)
{
	struct ctl_conn	 c;
	json_t		*j;

	open_api(&c, api);
	ctl_request(&c, "GET", target, NULL);
	if (c.status != 200)
		ctl_fail_reply(&c, target);
	j = ctl_read_json(&c);
	ctl_close(&c);
	return j;
}

static void
cmd_status(const char *api)
{
	json_t	*st = get_json(api, "/v1/status"), *g;

	if (json_out) {
		print_json(st);
		json_decref(st);
		return;
	}
	g = get_json(api, "/v1/guests");
	show_status(st, g);
	json_decref(st);
	json_decref(g);
}

static void
cmd_ls(const char *api)
{
	json_t	*f = get_json(api, "/v1/forwards"), *r;

	if (json_out) {
		print_json(f);
		json_decref(f);
		return;
	}
	show_forwards(f);
	json_decref(f);
	r = get_json(api, "/v1/reaches");
	show_reaches(r);
	json_decref(r);
}

static void
cmd_events(const char *api)
{
	struct ctl_conn	 c;
	json_t		*ev;
	char		*line;

	open_api(&c, api);
	ctl_request(&c, "GET", "/v1/events", NULL);
	if (c.status != 200)
		ctl_fail_reply(&c, "/v1/events");
	if (!json_out)
		fprintf(stderr, "portholectl: following events from %s "
		    "(interrupt to stop)\n", api);
	while ((line = ctl_read_line(&c)) != NULL) {
		if (json_out)
			printf("%s\n", line);
		else if ((ev = json_loads(line, 0, NULL)) != NULL) {
			show_event(ev);
			json_decref(ev);
		}
		free(line);
	}
	ctl_die("the host agent ended the event stream");
}

static void
cmd_policy(const char *api, const char *mode)
{
	struct ctl_conn	 c;
	json_t		*p;
	char		 body[64], what[64];

	if (mode == NULL) {
		p = get_json(api, "/v1/policy");
	} else {
		if (strcmp(mode, "refuse") != 0 &&
		    strcmp(mode, "loopback") != 0 && strcmp(mode, "allow") != 0) {
			fprintf(stderr, "portholectl: policy: \"%s\" is not "
			    "refuse, loopback or allow\n", mode);
			exit(2);
		}
		snprintf(body, sizeof body, "{\"mode\":\"%s\"}", mode);
		snprintf(what, sizeof what, "cannot set policy %s", mode);
		open_api(&c, api);
		ctl_request(&c, "PUT", "/v1/policy", body);
		if (c.status != 200)
			ctl_fail_reply(&c, what);
		p = ctl_read_json(&c);
		ctl_close(&c);
	}
	if (json_out)
		print_json(p);
	else {
		show_policy(p);
		if (mode != NULL)
			printf("%lld forward%s re-decided\n",
			    (long long)json_integer_value(json_object_get(p,
			    "forwards_changed")), json_integer_value(
			    json_object_get(p, "forwards_changed")) == 1 ?
			    "" : "s");
	}
	json_decref(p);
}

/* -a unix:PATH or PATH; the default is porthole-host's. */
static const char *
api_path(const char *arg, char *buf, size_t len)
{
	if (arg == NULL) {
		if (api_path_default(buf, len) == -1)
			ctl_die("default API socket path too long: give -a");
		api_default = 1;
		return buf;
	}
	if (strncmp(arg, "unix:", 5) == 0)
		arg += 5;
	else if (strchr(arg, ':') != NULL) {
		fprintf(stderr, "portholectl: -a: \"%s\" is not unix:PATH "
		    "(the API is on a Unix socket only)\n", arg);
		exit(2);
	}
	if (*arg == '\0') {
		fprintf(stderr, "portholectl: -a: no path\n");
		exit(2);
	}
	return arg;
}

int
main(int argc, char **argv)
{
	const char	*api_arg = NULL, *api, *cmd;
	char		 buf[API_PATH_MAX];
	int		 ch, nargs;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* events as they come */
	while ((ch = getopt_long(argc, argv, "a:hjV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			api_arg = optarg;
			break;
		case 'h':
			usage(0);
		case 'j':
			json_out = 1;
			break;
		case 'V':
			printf("portholectl %s\n", PORTHOLE_VERSION);
			exit(0);
		default:
			usage(2);
		}
	}
	if (optind == argc)
		usage(2);
	cmd = argv[optind];
	nargs = argc - optind - 1;
	api = api_path(api_arg, buf, sizeof buf);
	if (strcmp(cmd, "status") == 0 && nargs == 0)
		cmd_status(api);
	else if (strcmp(cmd, "ls") == 0 && nargs == 0)
		cmd_ls(api);
	else if (strcmp(cmd, "events") == 0 && nargs == 0)
		cmd_events(api);
	else if (strcmp(cmd, "policy") == 0 && nargs <= 1)
		cmd_policy(api, nargs == 1 ? argv[optind + 1] : NULL);
	else {
		fprintf(stderr, "portholectl: %s: unknown command or wrong "
		    "arguments\n", cmd);
		usage(2);
	}
	return 0;
}
