/*
 * libFuzzer target for the API's request body parser, api_body_policy()
 * (host-agent/api_body.c), which reads what any local client sends in
 * PUT /v1/policy.  A body is accepted only with a mode it names; a
 * refusal must say why in printable ASCII (it becomes a JSON string).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum policy_mode	 mode = (enum policy_mode)-1;
	char			 err[PH_REASON_MAX];
	const char		*p;

	err[0] = '\0';
	if (api_body_policy((const char *)data, size, &mode, err,
	    sizeof err) == 0) {
		if (mode < POLICY_REFUSE || mode > POLICY_ALLOW ||
		    memmem(data, size, policy_mode_name(mode),
		    strlen(policy_mode_name(mode))) == NULL)
			abort();
		return 0;
	}
	if (err[0] == '\0')
		abort();
	for (p = err; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	return 0;
}
