/*
 * libFuzzer target for the proxy socket's lines (guest-agent/pxmsg.c):
 * the request the guest agent reads from a proxy, and the answer the
 * proxy reads from the agent, both from the same bytes.  A line that
 * parses must be made again into exactly the same bytes (requests: the
 * address in its canonical form, which parses to the same request), and
 * a refusal must say why.  The bytes also go, split at NULs and
 * newlines, through docker-proxy's argument parser (shim/dproxy_args.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dproxy.h"
#include "pxmsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_req(const char *buf, size_t len)
{
	struct pxmsg_req	r, again;
	char			err[160] = "", out[PXMSG_REQ_MAX + 1];
	int			n;

	if (pxmsg_req_parse(buf, len, &r, err, sizeof err) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if ((n = pxmsg_req_format(&r, out, sizeof out)) == -1)
		abort();
	if (pxmsg_req_parse(out, (size_t)n, &again, err, sizeof err) == -1 ||
	    again.proto != r.proto || again.port != r.port ||
	    !addr_equal(&again.addr, &r.addr) ||
	    strcmp(again.name, r.name) != 0)
		abort();
}

static void
fuzz_ans(const char *buf, size_t len)
{
	struct pxmsg_ans	a;
	char			err[160] = "", out[PXMSG_ANS_MAX + 1];
	int			n;

	if (pxmsg_ans_parse(buf, len, &a, err, sizeof err) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if ((n = pxmsg_ans_format(&a, out, sizeof out)) == -1 ||
	    (size_t)n != len || memcmp(out, buf, len) != 0)
		abort();
}

static void
fuzz_args(const char *buf, size_t len)
{
	struct dproxy_args	 a;
	struct pxmsg_req	 r;
	char			*copy, *argv[32], err[160];
	int			 argc = 1;
	size_t			 i;

	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	argv[0] = "porthole-docker-proxy";
	argv[argc++] = copy;
	for (i = 0; i < len && argc < 31; i++)
		if (copy[i] == '\n' || copy[i] == '\0') {
			copy[i] = '\0';
			argv[argc++] = copy + i + 1;
		}
	argv[argc] = NULL;
	if (dproxy_args_parse(argc, argv, &a, err, sizeof err) == 0)
		dproxy_args_request(&a, &r, err, sizeof err);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_req((const char *)data, size);
	fuzz_ans((const char *)data, size);
	fuzz_args((const char *)data, size);
	return 0;
}
