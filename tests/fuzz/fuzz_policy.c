/*
 * libFuzzer target for the policy file parser (host-agent/policy_parse.c)
 * and the decision it drives (host-agent/policy.c).  Properties:
 *  - a file that does not parse says why, in "fuzz:LINE: ..." lines;
 *  - a file that parses prints (-n) as a file that parses again to the
 *    same rules, guest blocks, mode and limits;
 *  - every kind of bind decided under it gives a verdict, host ports
 *    within range and a terminated, printable reason;
 *  - the same decision through the index by port (policy_index.c) as by
 *    a scan of every rule.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The decision by a scan of every rule: pf without its index. */
static void
decide_scan(struct policy *p, const struct bind_req *req,
    struct bind_decision *d)
{
	struct policy_index	*ix = p->file->index;

	p->file->index = NULL;
	policy_decide(p, req, d);
	p->file->index = ix;
}

/* xmalloc.c's only need from log.c (which needs libevent). */
void
fatal(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

void
fatalx(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

struct host	*host;		/* policy.c's neighbours refer to it */

static char	errs[POLICY_ERRORS_MAX * 700];

static void
check_errors(void)
{
	const char	*p;

	if (strncmp(errs, "fuzz:", 5) != 0 || errs[strlen(errs) - 1] != '\n')
		abort();
	for (p = errs; *p != '\0'; p++)
		if ((*p < 0x20 || *p > 0x7e) && *p != '\n')
			abort();
}

static void
check_same(const struct policy_file *a, const struct policy_file *b)
{
	int	i;

	if (a->nrules != b->nrules || a->nguests != b->nguests ||
	    a->mode != b->mode || (a->lock_line != 0) != (b->lock_line != 0) ||
	    a->limits.max_forwards != b->limits.max_forwards ||
	    a->limits.max_conns != b->limits.max_conns)
		abort();
	for (i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].text, b->rules[i].text) != 0 ||
		    a->rules[i].guest != b->rules[i].guest)
			abort();
	for (i = 0; i < a->nguests; i++)
		if (strcmp(a->guests[i].pattern, b->guests[i].pattern) != 0 ||
		    a->guests[i].kind != b->guests[i].kind ||
		    a->guests[i].limits.max_forwards !=
		    b->guests[i].limits.max_forwards)
			abort();
}

static void
check_decisions(struct policy_file *pf, const uint8_t *data, size_t size)
{
	static const char	*addrs[] = { "0.0.0.0", "::", "127.0.0.1",
				    "::1", "10.1.2.3", "fd00::1", "224.0.0.1" };
	struct policy		 p = { .file = pf };
	struct bind_req		 req;
	struct bind_decision	 d, scan;
	size_t			 i, k;
	const char		*s;

	for (i = 0; i < sizeof addrs / sizeof addrs[0] * 2; i++) {
		memset(&req, 0, sizeof req);
		req.proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP;
		addr_parse(addrs[i / 2], &req.addr);
		req.port = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 80;
		req.port += (uint16_t)i;
		if (req.port == 0)
			req.port = 1;
		req.v6only = (int)(i & 2);
		req.guest_name = "dev-1";
		req.guest_ep = "unix:/run/vm.sock";
		req.guest_cid = 3;
		p.mode = (enum policy_mode)(i % 3);
		p.loopback_only = (int)(i & 4);
		policy_decide(&p, &req, &d);
		decide_scan(&p, &req, &scan);
		if (d.rule_line != scan.rule_line ||
		    strcmp(d.reason, scan.reason) != 0)
			abort();
		if (d.verdict < PH_BOUND || d.verdict > PH_REFUSED ||
		    d.naddr < 0 || d.naddr > PH_HOSTADDR_MAX ||
		    memchr(d.reason, '\0', sizeof d.reason) == NULL)
			abort();
		for (s = d.reason; *s != '\0'; s++)
			if (*s < 0x20 || *s > 0x7e)
				abort();
		for (k = 0; k < (size_t)d.naddr; k++)
			if (d.host[k].port == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_file	*pf, *again;
	char			*out = NULL;
	size_t			 outlen = 0;
	FILE			*fp;

	if ((pf = policy_parse("fuzz", (const char *)data, size, errs,
	    sizeof errs)) == NULL) {
		check_errors();
		return 0;
	}
	if (errs[0] != '\0')
		abort();
	if ((fp = open_memstream(&out, &outlen)) == NULL)
		abort();
	policy_print(fp, pf);
	fclose(fp);
	if ((again = policy_parse("fuzz", out, outlen, errs,
	    sizeof errs)) == NULL) {
		fprintf(stderr, "printed policy does not parse:\n%s%s", out,
		    errs);
		abort();
	}
	check_same(pf, again);
	check_decisions(pf, data, size);
	policy_file_free(again);
	policy_file_free(pf);
	free(out);
	return 0;
}
