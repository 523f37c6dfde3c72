/*
 * libFuzzer target for the key proof (protocol version 3) on both sides.
 * The input is read three ways:
 *  - as a key file's text (auth_key_parse): a key that parses is 32
 *    bytes whose hex is the input, lower-cased, less one newline;
 *  - as frames the host reads after its challenge: an AUTH that decodes
 *    must not prove the key unless it is the key's own proof;
 *  - as the WELCOME a guest reads: one that decodes and asks for a proof
 *    is answered (auth_prove), and the host's AUTH checked against it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t	key[PH_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t	nonce[PH_NONCE_LEN] = { 9, 8, 7 };
static const uint64_t	token = 0x1122334455667788ULL;

static void
key_text(const uint8_t *data, size_t size)
{
	uint8_t	k[PH_KEY_LEN];
	char	err[160], hex[2 * PH_KEY_LEN + 1];
	size_t	i, n = size;

	if (auth_key_parse((const char *)data, size, k, err, sizeof err) ==
	    -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (n > 0 && data[n - 1] == '\n')
		n--;
	if (n != 2 * PH_KEY_LEN)
		abort();
	sodium_bin2hex(hex, sizeof hex, k, sizeof k);
	for (i = 0; i < n; i++)
		if (tolower(data[i]) != hex[i])
			abort();
}

static void
host_reads(const uint8_t *data, size_t size)
{
	struct ph_msg	 m;
	uint8_t		 want[PH_PROOF_LEN];
	const char	*err;
	size_t		 used;

	auth_prove(AUTH_GUEST, key, nonce, token, want);
	while (size > 0 && ph_frame_decode(data, size, PH_PAYLOAD_MAX, &m,
	    &used, &err) >= PH_FRAME_OK) {
		if (m.type == PH_AUTH && (auth_verify(AUTH_GUEST, key, nonce,
		    token, m.u.auth.proof) == 0) != (memcmp(want,
		    m.u.auth.proof, PH_PROOF_LEN) == 0))
			abort();
		data += used;
		size -= used;
	}
}

static void
guest_reads(const uint8_t *data, size_t size)
{
	struct ph_msg	 m;
	uint8_t		 proof[PH_PROOF_LEN];
	const char	*err;

	if (ph_msg_decode(PH_WELCOME, data, size, &m, &err) == -1)
		return;
	if (m.u.welcome.auth != PH_AUTH_NONE &&
	    m.u.welcome.auth != PH_AUTH_HMAC)
		abort();
	if (m.u.welcome.auth == PH_AUTH_NONE)
		return;
	auth_prove(AUTH_GUEST, key, m.u.welcome.nonce, m.u.welcome.session,
	    proof);
	/* The guest's own proof sent back is not the host's. */
	if (auth_verify(AUTH_HOST, key, m.u.welcome.nonce,
	    m.u.welcome.session, proof) == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	init;

	if (!init && auth_init() == -1)
		abort();
	init = 1;
	key_text(data, size);
	host_reads(data, size);
	guest_reads(data, size);
	return 0;
}
