/*
 * libFuzzer target for endpoint_parse() (proto/endpoint.c), in both
 * roles.  The input becomes a NUL-terminated string; an endpoint that
 * parses must print (ep->str) as something that parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
parse(const char *s, enum endpoint_role role)
{
	struct endpoint	ep, again;
	char		err[128];

	err[0] = '\0';
	if (endpoint_parse(s, role, &ep, err, sizeof err) == -1) {
		if (err[0] == '\0')
			abort();	/* a refusal must say why */
		return;
	}
	if (memchr(ep.str, '\0', sizeof ep.str) == NULL ||
	    memchr(ep.path, '\0', sizeof ep.path) == NULL)
		abort();
	if (endpoint_parse(ep.str, role, &again, err, sizeof err) == -1)
		abort();
	if (again.type != ep.type || again.cid != ep.cid ||
	    again.port != ep.port || strcmp(again.path, ep.path) != 0 ||
	    strcmp(again.str, ep.str) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	parse(s, EP_LISTEN);
	parse(s, EP_CONNECT);
	free(s);
	return 0;
}
