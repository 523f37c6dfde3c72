/*
 * Unit tests for proto/auth.c and the frames of the key proof (protocol
 * version 3): key files are 64 hex digits, the file's owner and mode are
 * checked; a proof is HMAC-SHA-256 under the key of a role's label, the
 * nonce and the token (golden values from Python's hmac, outside
 * libsodium), and any change to any input or the other role's label
 * fails it; WELCOME's nonce and AUTH round-trip and are bounded.
 */
#include <sys/stat.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

static char	dir[] = "/tmp/check_auth.XXXXXX";
static char	err[512];

static const char	good_hex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void
setup(void)
{
	ck_assert_int_eq(auth_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/check_auth.XXXXXX")));
}

static void
teardown(void)
{
	char	cmd[64];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A file in the test's directory, with these bytes and this mode. */
static const char *
file(const char *name, const char *text, mode_t mode)
{
	static char	path[256];
	int		fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static const struct {
	const char	*text;
	int		 ok;
} parse_cases[] = {
	{ good_hex, 1 },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	  1 },
	{ "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	  1 },
	{ "", 0 },
	{ "\n", 0 },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
	  0 },			/* 63 digits */
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
	  0 },			/* 65 */
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
	  0 },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
	  0 },
	{ " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  0 },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r",
	  0 },
};

START_TEST(test_parse)
{
	uint8_t	key[PH_KEY_LEN];
	int	rc;

	rc = auth_key_parse(parse_cases[_i].text,
	    strlen(parse_cases[_i].text), key, err, sizeof err);
	ck_assert_msg((rc == 0) == parse_cases[_i].ok, "\"%s\": %s",
	    parse_cases[_i].text, rc == 0 ? "taken" : err);
	if (rc == 0) {
		ck_assert_uint_eq(key[0], 0);
		ck_assert_uint_eq(key[31], 0x1f);
	} else
		ck_assert_ptr_nonnull(strstr(err, "64 hex digits"));
}
END_TEST

START_TEST(test_load)
{
	uint8_t	key[PH_KEY_LEN];

	ck_assert_int_eq(auth_key_load(file("k", good_hex, 0600), key, err,
	    sizeof err), 0);
	ck_assert_uint_eq(key[16], 0x10);
	ck_assert_int_eq(auth_key_load(file("k4", good_hex, 0400), key, err,
	    sizeof err), 0);
}
END_TEST

static const struct {
	mode_t		 mode;
	const char	*why;
} mode_cases[] = {
	{ 0640, "readable or writable by others" },
	{ 0604, "readable or writable by others" },
	{ 0620, "readable or writable by others" },
	{ 0601, "readable or writable by others" },
};

START_TEST(test_load_mode)
{
	uint8_t	key[PH_KEY_LEN];

	ck_assert_int_eq(auth_key_load(file("k", good_hex, mode_cases[_i].mode),
	    key, err, sizeof err), -1);
	ck_assert_msg(strstr(err, mode_cases[_i].why) != NULL, "%s", err);
}
END_TEST

START_TEST(test_load_unsafe)
{
	uint8_t		key[PH_KEY_LEN];
	char		path[300], big[PH_KEY_FILE_MAX + 2];
	const char	*p;

	/* Another user's (the tests run as root: nobody's is another's). */
	p = file("theirs", good_hex, 0600);
	ck_assert_int_eq(chown(p, 65534, 65534), 0);
	ck_assert_int_eq(auth_key_load(p, key, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "owned by another user"));
	/* A symbolic link is not followed. */
	p = file("real", good_hex, 0600);
	snprintf(path, sizeof path, "%s/link", dir);
	ck_assert_int_eq(symlink(p, path), 0);
	ck_assert_int_eq(auth_key_load(path, key, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, strerror(ELOOP)));
	/* A directory, a missing file, a long one. */
	ck_assert_int_eq(auth_key_load(dir, key, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	snprintf(path, sizeof path, "%s/none", dir);
	ck_assert_int_eq(auth_key_load(path, key, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(auth_key_load(file("big", big, 0600), key, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(test_new)
{
	uint8_t		a[PH_KEY_LEN], b[PH_KEY_LEN];
	char		pa[300], pb[300];
	struct stat	st;

	snprintf(pa, sizeof pa, "%s/a", dir);
	snprintf(pb, sizeof pb, "%s/b", dir);
	ck_assert_int_eq(auth_key_new(pa, err, sizeof err), 0);
	ck_assert_int_eq(auth_key_new(pb, err, sizeof err), 0);
	ck_assert_int_eq(stat(pa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(auth_key_load(pa, a, err, sizeof err), 0);
	ck_assert_int_eq(auth_key_load(pb, b, err, sizeof err), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
	/* Never over an existing file, which stays as it was. */
	ck_assert_int_eq(auth_key_new(pa, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, strerror(EEXIST)));
	ck_assert_int_eq(auth_key_load(pa, b, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
}
END_TEST

static uint8_t	key[PH_KEY_LEN], nonce[PH_NONCE_LEN];
static const uint64_t	token = 0x0123456789abcdefULL;

static void
vector(void)
{
	int	i;

	for (i = 0; i < PH_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < PH_NONCE_LEN; i++)
		nonce[i] = (uint8_t)(100 + i);
}

static void
hex(const uint8_t *p, char *out)
{
	int	i;

	for (i = 0; i < PH_PROOF_LEN; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

START_TEST(test_golden)
{
	uint8_t	proof[PH_PROOF_LEN];
	char	h[2 * PH_PROOF_LEN + 1];

	vector();
	auth_prove(AUTH_GUEST, key, nonce, token, proof);
	hex(proof, h);
	ck_assert_str_eq(h, "c2d5f5214ae03e27c9c6ab546f679d70"
	    "990edd8fe835fc39389d1f985bfbec18");
	ck_assert_int_eq(auth_verify(AUTH_GUEST, key, nonce, token, proof), 0);
	auth_prove(AUTH_HOST, key, nonce, token, proof);
	hex(proof, h);
	ck_assert_str_eq(h, "74e057296a659448ad400ff52682cccd"
	    "f318fbf37e0f607f3f81ffbe56cd7511");
	/* The host's answer is not the guest's proof, nor the reverse. */
	ck_assert_int_eq(auth_verify(AUTH_GUEST, key, nonce, token, proof),
	    -1);
}
END_TEST

/* Every bit of every input matters: 32 + 32 + 8 + 32 bytes flipped. */
START_TEST(test_flip)
{
	uint8_t		proof[PH_PROOF_LEN];
	int		bit = _i % 8, byte = _i / 8;
	uint64_t	tok = token;

	vector();
	auth_prove(AUTH_GUEST, key, nonce, token, proof);
	if (byte < 32)
		key[byte] ^= 1 << bit;
	else if (byte < 64)
		nonce[byte - 32] ^= 1 << bit;
	else if (byte < 72)
		tok ^= (uint64_t)1 << (8 * (byte - 64) + bit);
	else
		proof[byte - 72] ^= 1 << bit;
	ck_assert_int_eq(auth_verify(AUTH_GUEST, key, nonce, tok, proof), -1);
}
END_TEST

START_TEST(test_nonce)
{
	uint8_t	a[PH_NONCE_LEN], b[PH_NONCE_LEN];

	auth_nonce(a);
	auth_nonce(b);
	ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
}
END_TEST

/* WELCOME: version 3 carries the proof's kind and nonce; 2 does not. */
START_TEST(test_welcome_frames)
{
	struct ph_msg	 m = { .type = PH_WELCOME }, d;
	uint8_t		 buf[PH_FRAME_MAX];
	const char	*e;
	size_t		 len, len2;

	m.u.welcome.version = 3;
	m.u.welcome.session = token;
	m.u.welcome.max_payload = 4096;
	m.u.welcome.auth = PH_AUTH_HMAC;
	memset(m.u.welcome.nonce, 0xa5, PH_NONCE_LEN);
	len = ph_msg_encode(&m, buf, sizeof buf);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(ph_msg_decode(PH_WELCOME, buf + PH_HDR_LEN,
	    len - PH_HDR_LEN, &d, &e), 0);
	ck_assert_uint_eq(d.u.welcome.auth, PH_AUTH_HMAC);
	ck_assert_int_eq(memcmp(d.u.welcome.nonce, m.u.welcome.nonce,
	    PH_NONCE_LEN), 0);
	/* Cut anywhere in the nonce: refused. */
	ck_assert_int_eq(ph_msg_decode(PH_WELCOME, buf + PH_HDR_LEN,
	    len - PH_HDR_LEN - 1, &d, &e), -1);
	ck_assert_int_eq(ph_msg_decode(PH_WELCOME, buf + PH_HDR_LEN,
	    len - PH_HDR_LEN - PH_NONCE_LEN - 1, &d, &e), -1);
	/* A kind of proof this version does not know: refused. */
	buf[len - PH_NONCE_LEN - 1] = 2;
	ck_assert_int_eq(ph_msg_decode(PH_WELCOME, buf + PH_HDR_LEN,
	    len - PH_HDR_LEN, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e, "unknown kind"));
	/* Version 2: 33 bytes shorter, and no proof asked. */
	m.u.welcome.version = 2;
	len2 = ph_msg_encode(&m, buf, sizeof buf);
	ck_assert_uint_eq(len2, len - 1 - PH_NONCE_LEN);
	ck_assert_int_eq(ph_msg_decode(PH_WELCOME, buf + PH_HDR_LEN,
	    len2 - PH_HDR_LEN, &d, &e), 0);
	ck_assert_uint_eq(d.u.welcome.auth, PH_AUTH_NONE);
}
END_TEST

START_TEST(test_auth_frames)
{
	struct ph_msg	 m = { .type = PH_AUTH }, d;
	uint8_t		 buf[PH_FRAME_MAX];
	const char	*e;
	size_t		 len;

	memset(m.u.auth.proof, 0x3c, PH_PROOF_LEN);
	len = ph_msg_encode(&m, buf, sizeof buf);
	ck_assert_uint_eq(len, PH_HDR_LEN + PH_PROOF_LEN);
	ck_assert_uint_eq(buf[1], PH_AUTH);
	ck_assert_int_eq(ph_msg_decode(PH_AUTH, buf + PH_HDR_LEN, PH_PROOF_LEN,
	    &d, &e), 0);
	ck_assert_int_eq(memcmp(d.u.auth.proof, m.u.auth.proof, PH_PROOF_LEN),
	    0);
	ck_assert_int_eq(ph_msg_decode(PH_AUTH, buf + PH_HDR_LEN,
	    PH_PROOF_LEN - 1, &d, &e), -1);
	ck_assert_str_eq(ph_type_name(PH_AUTH), "AUTH");
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc;

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_parse, 0,
	    sizeof parse_cases / sizeof parse_cases[0]);
	tcase_add_test(tc, test_load);
	tcase_add_loop_test(tc, test_load_mode, 0,
	    sizeof mode_cases / sizeof mode_cases[0]);
	tcase_add_test(tc, test_load_unsafe);
	tcase_add_test(tc, test_new);
	suite_add_tcase(s, tc);
	tc = tcase_create("proof");
	tcase_add_test(tc, test_golden);
	tcase_add_loop_test(tc, test_flip, 0, (32 + 32 + 8 + 32) * 8);
	tcase_add_test(tc, test_nonce);
	tcase_add_test(tc, test_welcome_frames);
	tcase_add_test(tc, test_auth_frames);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(auth_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
