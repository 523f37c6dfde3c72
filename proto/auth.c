/*
 * Key files and the proof of a key.  The crypto is libsodium's: HMAC-
 * SHA-256 (crypto_auth_hmacsha256), its constant-time verification, its
 * random bytes and its hex decoder; nothing here computes a hash.
 *
 * A key file holds 64 hex digits and an optional newline, nothing else.
 * It must be a regular file owned by root or by the user reading it and
 * readable by no one else: a key any local user can read proves nothing.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "buf.h"

/*
 * Bound into every proof, so that it proves nothing in another protocol
 * and the host's answer is never the guest's proof sent back.
 */
static const char *const auth_labels[] = {
	[AUTH_GUEST] = "porthole v3 guest",
	[AUTH_HOST] = "porthole v3 host",
};

int
auth_init(void)
{
	return sodium_init() == -1 ? -1 : 0;
}

/* text, len bytes of a key file: 0 with key filled, or -1 and err. */
int
auth_key_parse(const char *text, size_t len, uint8_t key[PH_KEY_LEN],
    char *err, size_t errlen)
{
	size_t		 n = 0;
	const char	*end = NULL;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len != 2 * PH_KEY_LEN) {
		snprintf(err, errlen, "a key is 64 hex digits on one line "
		    "(porthole-host --new-key makes one)");
		return -1;
	}
	if (sodium_hex2bin(key, PH_KEY_LEN, text, len, NULL, &n,
	    &end) != 0 || n != PH_KEY_LEN || end != text + len) {
		sodium_memzero(key, PH_KEY_LEN);
		snprintf(err, errlen, "a key is 64 hex digits: found another "
		    "character");
		return -1;
	}
	return 0;
}

/* Why st, a key file's, is not safe to use, or NULL. */
static const char *
auth_key_unsafe(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		return "readable or writable by others (chmod 600 it)";
	if (st->st_size > PH_KEY_FILE_MAX)
		return "too long for a key";
	return NULL;
}

int
auth_key_load(const char *path, uint8_t key[PH_KEY_LEN], char *err,
    size_t errlen)
{
	char		 buf[PH_KEY_FILE_MAX + 1], why_buf[128];
	struct stat	 st;
	const char	*why;
	ssize_t		 n;
	int		 fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "key %s: %s", path, strerror(errno));
		goto out;
	}
	if ((why = auth_key_unsafe(&st)) != NULL) {
		snprintf(err, errlen, "key %s: %s", path, why);
		goto out;
	}
	if ((n = read(fd, buf, sizeof buf)) == -1) {
		snprintf(err, errlen, "key %s: %s", path, strerror(errno));
		goto out;
	}
	if (auth_key_parse(buf, (size_t)n, key, why_buf,
	    sizeof why_buf) == 0)
		rc = 0;
	else
		snprintf(err, errlen, "key %s: %s", path, why_buf);
out:
	sodium_memzero(buf, sizeof buf);
	close(fd);
	return rc;
}

/* Writes a new random key to path, which must not exist. */
int
auth_key_new(const char *path, char *err, size_t errlen)
{
	uint8_t	 key[PH_KEY_LEN];
	char	 hex[2 * PH_KEY_LEN + 2];
	size_t	 len;
	int	 fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	len = strlen(hex);
	hex[len++] = '\n';
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	sodium_memzero(key, sizeof key);
	sodium_memzero(hex, sizeof hex);
	if (rc == -1)
		(void)unlink(path);
	return rc;
}

/* HMAC-SHA-256 under key of the role's label, the nonce and the token. */
void
auth_prove(enum auth_role role, const uint8_t key[PH_KEY_LEN],
    const uint8_t nonce[PH_NONCE_LEN], uint64_t token,
    uint8_t proof[PH_PROOF_LEN])
{
	crypto_auth_hmacsha256_state	st;
	uint8_t				tok[8];
	struct wbuf			b;

	wbuf_init(&b, tok, sizeof tok);
	wbuf_put_u64(&b, token);
	crypto_auth_hmacsha256_init(&st, key, PH_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)auth_labels[role],
	    strlen(auth_labels[role]));
	crypto_auth_hmacsha256_update(&st, nonce, PH_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, tok, sizeof tok);
	crypto_auth_hmacsha256_final(&st, proof);
	sodium_memzero(&st, sizeof st);
}

/* 0 if proof is the key's for this nonce and token; constant time. */
int
auth_verify(enum auth_role role, const uint8_t key[PH_KEY_LEN],
    const uint8_t nonce[PH_NONCE_LEN], uint64_t token,
    const uint8_t proof[PH_PROOF_LEN])
{
	uint8_t	want[PH_PROOF_LEN];
	int	rc;

	auth_prove(role, key, nonce, token, want);
	rc = sodium_memcmp(want, proof, PH_PROOF_LEN) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof want);
	return rc;
}

void
auth_nonce(uint8_t nonce[PH_NONCE_LEN])
{
	randombytes_buf(nonce, PH_NONCE_LEN);
}

void
auth_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
