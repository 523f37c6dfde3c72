/*
 * The key both agents prove they hold (protocol version 3): a file of 64
 * hex digits on both sides, never sent.  The host's WELCOME carries a
 * fresh nonce; the guest answers AUTH with HMAC-SHA-256 over it and the
 * session token, and the host, once that checks, with its own AUTH over
 * the same under another label (libsodium's HMAC, compared in constant
 * time).  auth.c.
 */
#ifndef PH_AUTH_H
#define PH_AUTH_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define PH_KEY_LEN		32
#define PH_KEY_FILE_MAX		256	/* bytes: a key is 65 */

enum auth_role {		/* who proves: a proof is never the other's */
	AUTH_GUEST,
	AUTH_HOST
};

int	auth_init(void);
int	auth_key_parse(const char *, size_t, uint8_t [PH_KEY_LEN], char *,
	    size_t);
int	auth_key_load(const char *, uint8_t [PH_KEY_LEN], char *, size_t);
int	auth_key_new(const char *, char *, size_t);
void	auth_prove(enum auth_role, const uint8_t [PH_KEY_LEN],
	    const uint8_t [PH_NONCE_LEN], uint64_t, uint8_t [PH_PROOF_LEN]);
int	auth_verify(enum auth_role, const uint8_t [PH_KEY_LEN],
	    const uint8_t [PH_NONCE_LEN], uint64_t,
	    const uint8_t [PH_PROOF_LEN]);
void	auth_nonce(uint8_t [PH_NONCE_LEN]);
void	auth_wipe(void *, size_t);

#endif
