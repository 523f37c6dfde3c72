/*
 * Who may speak for a guest (porthole-host(8), SECURITY CONSIDERATIONS).
 *
 * On a vsock endpoint the peer's address says it: a connection from CID
 * 0, 1 or 2 is the hypervisor or this host itself (with vsock_loopback,
 * any local user), and one from a source port above 1023 is from a
 * process in the VM that could not bind a reserved port, so not the
 * guest agent, which binds one as NFS and rsh clients do.  Both are
 * refused at accept, before a byte is read, unless --local-peers or
 * --any-source-port says otherwise.
 *
 * A Unix endpoint (Firecracker, Cloud Hypervisor: the hypervisor hides
 * the guest's port) has the key instead: when the guest's block in the
 * policy file or -K gives one, WELCOME carries a fresh nonce and the
 * connection becomes a session only once AUTH proves the key over it
 * (auth.c).  Until then it counts as unidentified, under the same caps
 * and deadline as a connection yet to send HELLO (listener.c).
 */
#include <sys/socket.h>
#include <linux/vm_sockets.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "host.h"
#include "log.h"
#include "version.h"

static const char *const gate_names[GATE_NKINDS] = {
	[GATE_LOCAL_CID] = "local-cid",
	[GATE_SOURCE_PORT] = "source-port",
	[GATE_OLD_VERSION] = "old-version",
	[GATE_NO_PROOF] = "no-proof",
	[GATE_BAD_PROOF] = "bad-proof",
	[GATE_HELD] = "held",
};

const char *
gate_name(enum gate_refusal r)
{
	return r < GATE_NKINDS ? gate_names[r] : "unknown";
}

/* Counted, and logged under the guest's rate limit. */
void
gate_refused(const struct guest_ep *gep, uint32_t cid, enum gate_refusal r,
    const char *why)
{
	host->gate_refused[r]++;
	if (cid != 0)
		limit_warn(gep, cid, WARN_AUTH, "%s: connection from cid %u "
		    "refused: %s", gep->ep.str, cid, why);
	else
		limit_warn(gep, 0, WARN_AUTH, "%s: connection refused: %s",
		    gep->ep.str, why);
}

/* At accept, for a vsock peer: 0 to go on, -1 refused (logged). */
int
gate_vsock_peer(const struct guest_ep *gep, const struct sockaddr_vm *svm)
{
	char	why[160];

	if (svm->svm_cid <= PH_CID_HOST && !host->local_peers) {
		snprintf(why, sizeof why, "cid %u is the hypervisor or this "
		    "host, not a guest (--local-peers accepts it)",
		    svm->svm_cid);
		gate_refused(gep, svm->svm_cid, GATE_LOCAL_CID, why);
		return -1;
	}
	if (svm->svm_port > PH_RESERVED_PORT_MAX && !host->any_source_port) {
		snprintf(why, sizeof why, "source port %u is not reserved: "
		    "not the guest agent (--any-source-port accepts it)",
		    svm->svm_port);
		gate_refused(gep, svm->svm_cid, GATE_SOURCE_PORT, why);
		return -1;
	}
	return 0;
}

/* The key this guest must prove, or NULL: its block's, else -K's. */
const uint8_t *
gate_key(const struct guest_ep *gep, uint32_t cid, const struct ph_hello *h)
{
	const uint8_t	*k;

	k = policy_guest_key(host->policy.file, h->name[0] != '\0' ?
	    h->name : "guest", gep->ep.str, cid);
	if (k == NULL && host->has_key)
		k = host->key;
	return k;
}

/* Says ERROR code why on fd (best effort: it is closed next). */
void
gate_say_error(int fd, uint32_t code, const char *why)
{
	struct ph_msg	m = { .type = PH_ERROR };
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;

	m.u.error.code = code;
	strlcpy(m.u.error.message, why, sizeof m.u.error.message);
	if ((len = ph_msg_encode(&m, buf, sizeof buf)) != 0)
		(void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * WELCOME for a guest that must prove a key: a fresh token and nonce in
 * *a.  -1 if the guest is too old to prove one or the frame could not
 * be sent whole (the caller drops the connection).
 */
int
gate_challenge(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_hello *h, struct gate_auth *a)
{
	struct ph_msg	m = { .type = PH_WELCOME };
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;
	char		why[160];

	if (h->vmin > PH_PROTO_VERSION) {
		snprintf(why, sizeof why, "host speaks protocol versions "
		    "%u-%u", PH_PROTO_VERSION_MIN, PH_PROTO_VERSION);
		gate_say_error(fd, PH_ERR_VERSION, why);
		gate_refused(gep, cid, GATE_OLD_VERSION, why);
		return -1;
	}
	if (h->vmax < PH_PROTO_VERSION_AUTH) {
		snprintf(why, sizeof why, "this guest must prove a key, and "
		    "its agent speaks protocol %u at most (%u needed)",
		    h->vmax, PH_PROTO_VERSION_AUTH);
		gate_say_error(fd, PH_ERR_AUTH, why);
		gate_refused(gep, cid, GATE_OLD_VERSION, why);
		return -1;
	}
	a->version = PH_PROTO_VERSION;
	a->token = 0;
	while (a->token == 0)
		arc4random_buf(&a->token, sizeof a->token);
	auth_nonce(a->nonce);
	session_welcome(&m, a->version, a->token);
	m.u.welcome.auth = PH_AUTH_HMAC;
	memcpy(m.u.welcome.nonce, a->nonce, sizeof a->nonce);
	len = ph_msg_encode(&m, buf, sizeof buf);
	/* The first frame the socket carries: its buffer is empty. */
	if (len == 0 || send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)len)
		return -1;
	return 0;
}

/*
 * AUTH's proof against the challenge: 0 if it proves key, and then our
 * own AUTH has been sent, which the guest waits for before it opens a
 * data stream (else one could beat the session here) and which proves
 * to it that this host holds the key too.
 */
int
gate_verify(const struct guest_ep *gep, uint32_t cid, const uint8_t *key,
    const struct gate_auth *a, const struct ph_auth *proof, int fd)
{
	struct ph_msg	m = { .type = PH_AUTH };
	uint8_t		buf[PH_HDR_LEN + PH_PROOF_LEN];
	size_t		len;

	if (auth_verify(AUTH_GUEST, key, a->nonce, a->token,
	    proof->proof) == 0) {
		auth_prove(AUTH_HOST, key, a->nonce, a->token, m.u.auth.proof);
		len = ph_msg_encode(&m, buf, sizeof buf);
		/* WELCOME was read (AUTH answers it): there is room. */
		return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)len ? 0 : -1;
	}
	gate_say_error(fd, PH_ERR_AUTH, "wrong key");
	gate_refused(gep, cid, GATE_BAD_PROOF, "AUTH does not prove the "
	    "guest's key");
	return -1;
}
