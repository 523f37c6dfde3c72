/*
 * Why a bind was refused or failed, and why a session ended: the codes
 * that code decides by, and the one table of their stable names, the
 * labels of /metrics.  The English text that goes with each (the log, an
 * EXPOSED reason, an event's reason) is for people and is never matched.
 */
#include "host.h"

static const char *refusal_names[REFUSAL_NKINDS] = {
	[REFUSAL_NONE] = "other",
	[REFUSAL_NOT_UNICAST] = "not_unicast",
	[REFUSAL_RULE] = "rule",
	[REFUSAL_POLICY] = "policy",
	[REFUSAL_PRIVILEGED_PORT] = "privileged_port",
	[REFUSAL_PORT_IN_USE] = "port_in_use",
	[REFUSAL_LIMIT] = "limit",
	[REFUSAL_ADDRESS_IN_USE] = "address_in_use",
	[REFUSAL_LISTEN_ERROR] = "listen_error",
	[REFUSAL_BAD_NAME] = "bad_name",
	[REFUSAL_NAME_IN_USE] = "name_in_use",
};

static const char *end_names[END_NKINDS] = {
	[END_ERROR] = "error",
	[END_GUEST_CLOSED] = "guest_closed",
	[END_REPLACED] = "replaced",
	[END_PROTOCOL] = "protocol_error",
	[END_SLOW_GUEST] = "slow_guest",
	[END_KEEPALIVE] = "keepalive",
	[END_SHUTDOWN] = "shutdown",
};

const char *
reason_refusal(enum refusal r)
{
	return r < REFUSAL_NKINDS ? refusal_names[r] : "other";
}

const char *
reason_end(enum end_reason e)
{
	return e < END_NKINDS ? end_names[e] : "error";
}
