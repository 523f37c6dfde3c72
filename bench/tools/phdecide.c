/*
 * phdecide: times the host agent's bind decisions (policy_decide, the
 * code porthole-host runs for every EXPOSE) under a policy file of many
 * rules, for bench/scale.  The file it makes is what a node with many
 * published ports might hold: a rule per port (allow, loopback, refuse,
 * remap, TCP and UDP), and every 500th rule a range over many ports.
 * Half the binds it decides are on a ruled port, the other half on any
 * port (most of them matched by no rule: the whole list is tried).
 *
 *	rules R parse_ms P decisions D decide_ns p50 A p99 B max C
 *
 * Usage: phdecide [-r RULES] [-n DECISIONS] [-o FILE]
 * -o writes the policy file too, for porthole-host -f.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "number.h"
#include "xmalloc.h"

struct host	*host;

#define PHD_FIRST_PORT	10000	/* rule i is on port PHD_FIRST_PORT + i */

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One rule a line; every 500th over a range. */
static char *
make_policy(int nrules, size_t *len)
{
	static const char *const actions[] = { "allow", "loopback", "refuse" };
	char	*text, *p;
	size_t	 size = (size_t)nrules * 64 + 64;
	int	 i, port;

	p = text = xmalloc(size);
	p += snprintf(p, size, "mode loopback\n");
	for (i = 0; i < nrules; i++) {
		port = PHD_FIRST_PORT + i;
		if (i % 500 == 499)
			p += snprintf(p, size - (size_t)(p - text),
			    "refuse udp port %d-%d\n", 1 + i % 7, 999);
		else if (i % 4 == 3)
			p += snprintf(p, size - (size_t)(p - text),
			    "remap tcp port %d to %d\n", port, port + 30000);
		else
			p += snprintf(p, size - (size_t)(p - text),
			    "%s %s port %d\n", actions[i % 3],
			    i % 2 ? "udp" : "tcp", port);
	}
	*len = (size_t)(p - text);
	return text;
}

static void
random_req(struct bind_req *r, int nrules)
{
	uint32_t	x = arc4random();

	memset(r, 0, sizeof *r);
	r->proto = x & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	if (x & 2)
		addr_any(AF_INET, &r->addr);
	else
		addr_loopback(AF_INET, &r->addr);
	if (x & 4)
		r->port = (uint16_t)(PHD_FIRST_PORT + arc4random_uniform(
		    (uint32_t)nrules));
	else
		r->port = (uint16_t)(1 + arc4random_uniform(65535));
	r->guest_name = "scale-0";
	r->guest_ep = "unix:/nonexistent";
}

int
main(int argc, char **argv)
{
	struct policy		 p = { .mode = POLICY_LOOPBACK, .bind_cap = 1 };
	struct bind_req		 req;
	struct bind_decision	 d;
	char			 errs[POLICY_ERRS_LEN] = "";
	const char		*out = NULL;
	double			*t, t0;
	size_t			 len;
	char			*text;
	int			 ch, i, nrules = 10000, n = 100000;
	FILE			*f;

	log_init("phdecide", 1, 0);
	while ((ch = getopt(argc, argv, "n:o:r:")) != -1) {
		switch (ch) {
		case 'n': n = number_arg("-n", optarg, 1, 10000000); break;
		case 'o': out = optarg; break;
		case 'r': nrules = number_arg("-r", optarg, 1,
		    65535 - PHD_FIRST_PORT - 30000); break;
		default:
			fprintf(stderr, "usage: phdecide [-r RULES] "
			    "[-n DECISIONS] [-o FILE]\n");
			exit(2);
		}
	}
	text = make_policy(nrules, &len);
	if (out != NULL) {
		if ((f = fopen(out, "w")) == NULL ||
		    fwrite(text, 1, len, f) != len || fclose(f) != 0)
			fatal("%s", out);
	}
	t0 = now_ns();
	if ((p.file = policy_parse("phdecide", text, len, errs,
	    sizeof errs)) == NULL)
		fatalx("policy: %s", errs);
	printf("rules %d parse_ms %.2f", p.file->nrules, (now_ns() - t0) / 1e6);
	t = xcalloc((size_t)n, sizeof *t);
	for (i = 0; i < n; i++) {
		random_req(&req, nrules);
		t0 = now_ns();
		policy_decide(&p, &req, &d);
		t[i] = now_ns() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	printf(" decisions %d decide_ns p50 %.0f p99 %.0f max %.0f\n", n,
	    t[n / 2], t[(size_t)n * 99 / 100], t[n - 1]);
	policy_file_free(p.file);
	free(text);
	free(t);
	return 0;
}
