/*
 * Unit tests for proto/buf.c: the bounds-checked cursors every peer byte
 * goes through.  A getter must consume exactly what it returns, or
 * nothing; a writer's overflow must be sticky.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

/*
 * The fixture: each test reads from a heap copy of exactly the bytes it
 * is given, so that ASan (make check SANITIZE=1) catches any read past
 * the end.
 */
static uint8_t		*heap;
static struct rbuf	 rb;

static void
setup(void)
{
	heap = NULL;
	memset(&rb, 0, sizeof rb);
}

static void
teardown(void)
{
	free(heap);
	heap = NULL;
}

static void
rb_load(const void *p, size_t len)
{
	free(heap);
	heap = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(heap);
	if (len > 0)
		memcpy(heap, p, len);
	rbuf_init(&rb, heap, len);
}

/* Every getter behind one signature, for the table-driven tests. */
static int
get_u8(struct rbuf *b, void *out)
{
	return rbuf_get_u8(b, out);
}

static int
get_u16(struct rbuf *b, void *out)
{
	return rbuf_get_u16(b, out);
}

static int
get_u32(struct rbuf *b, void *out)
{
	return rbuf_get_u32(b, out);
}

static int
get_u64(struct rbuf *b, void *out)
{
	return rbuf_get_u64(b, out);
}

static int
get_bytes5(struct rbuf *b, void *out)
{
	return rbuf_get_bytes(b, out, 5);
}

static int
get_string(struct rbuf *b, void *out)
{
	return rbuf_get_string(b, out, 16);
}

static const struct getter {
	const char	*name;
	int		(*get)(struct rbuf *, void *);
	size_t		 need;		/* bytes a success takes */
	const char	*in;		/* at least need bytes */
} getters[] = {
	{ "u8", get_u8, 1, "\x81" },
	{ "u16", get_u16, 2, "\x81\x82" },
	{ "u32", get_u32, 4, "\x81\x82\x83\x84" },
	{ "u64", get_u64, 8, "\x81\x82\x83\x84\x85\x86\x87\x88" },
	{ "bytes(5)", get_bytes5, 5, "abcde" },
	{ "string", get_string, 5, "\x00\x03" "abc" },
	{ "empty string", get_string, 2, "\x00\x00" },
};
#define NGETTERS	(sizeof getters / sizeof getters[0])

/* Short input, from the start and one byte in: -1, nothing consumed. */
START_TEST(test_getter_short)
{
	const struct getter	*g = &getters[_i];
	uint8_t			 in[16], out[16], first;
	size_t			 len;

	for (len = 0; len < g->need; len++) {
		rb_load(g->in, len);
		memset(out, 0xee, sizeof out);
		ck_assert_msg(g->get(&rb, out) == -1, "%s succeeded on %zu "
		    "of %zu bytes", g->name, len, g->need);
		ck_assert_uint_eq(rb.off, 0);
		ck_assert_uint_eq(rbuf_left(&rb), len);

		/* The same with the cursor already one byte in. */
		in[0] = 0x55;
		memcpy(in + 1, g->in, len);
		rb_load(in, len + 1);
		ck_assert_int_eq(rbuf_get_u8(&rb, &first), 0);
		ck_assert_msg(g->get(&rb, out) == -1, "%s succeeded on %zu "
		    "of %zu bytes at offset 1", g->name, len, g->need);
		ck_assert_uint_eq(rb.off, 1);
		ck_assert_uint_eq(rbuf_left(&rb), len);
	}
}
END_TEST

/* Enough input, and more: 0, exactly need bytes consumed. */
START_TEST(test_getter_exact)
{
	const struct getter	*g = &getters[_i];
	uint8_t			 in[32], out[16];
	size_t			 extra;

	for (extra = 0; extra < 4; extra++) {
		memset(in, 'z', sizeof in);
		memcpy(in, g->in, g->need);
		rb_load(in, g->need + extra);
		ck_assert_msg(g->get(&rb, out) == 0, "%s failed on %zu bytes",
		    g->name, g->need + extra);
		ck_assert_uint_eq(rb.off, g->need);
		ck_assert_uint_eq(rbuf_left(&rb), extra);
	}
}
END_TEST

START_TEST(test_big_endian)
{
	static const uint8_t	in[] = { 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
	    0x87, 0x88, 0xff, 0x00, 0x01, 0xfe, 0xdc, 0xba, 0x98 };
	uint8_t			u8;
	uint16_t		u16;
	uint32_t		u32;
	uint64_t		u64;

	rb_load(in, sizeof in);
	ck_assert_int_eq(rbuf_get_u16(&rb, &u16), 0);
	ck_assert_uint_eq(u16, 0x8182);
	ck_assert_int_eq(rbuf_get_u32(&rb, &u32), 0);
	ck_assert_uint_eq(u32, 0x83848586);
	ck_assert_int_eq(rbuf_get_u8(&rb, &u8), 0);
	ck_assert_uint_eq(u8, 0x87);
	ck_assert_int_eq(rbuf_get_u64(&rb, &u64), 0);
	ck_assert_uint_eq(u64, 0x88ff0001fedcba98ULL);
	ck_assert_uint_eq(rbuf_left(&rb), 0);
}
END_TEST

START_TEST(test_get_bytes)
{
	uint8_t	out[4] = { 1, 2, 3, 4 };

	rb_load("wxyz", 4);
	ck_assert_int_eq(rbuf_get_bytes(&rb, out, 0), 0);
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_int_eq(rbuf_get_bytes(&rb, out, 5), -1);
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_int_eq(rbuf_get_bytes(&rb, out, SIZE_MAX), -1);
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_int_eq(rbuf_get_bytes(&rb, out, 3), 0);
	ck_assert_mem_eq(out, "wxy\x04", 4);
	ck_assert_int_eq(rbuf_get_bytes(&rb, out, 2), -1);
	ck_assert_uint_eq(rb.off, 3);
}
END_TEST

START_TEST(test_string_ok)
{
	char	dst[8];

	rb_load("\x00\x07" "a b~!09", 9);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "a b~!09");
	ck_assert_uint_eq(rb.off, 9);
}
END_TEST

START_TEST(test_string_empty)
{
	char	dst[1] = { 'x' };

	rb_load("\x00\x00" "rest", 6);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "");
	ck_assert_uint_eq(rb.off, 2);
}
END_TEST

/* dst must hold the string and a NUL: length == dstlen is too long. */
START_TEST(test_string_too_long)
{
	char	dst[4];

	memcpy(dst, "old", 4);
	rb_load("\x00\x04" "abcd", 6);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), -1);
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_str_eq(dst, "old");
	rb_load("\xff\xff" "abcd", 6);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), -1);
	ck_assert_uint_eq(rb.off, 0);
	rb_load("\x00\x00", 2);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, 0), -1);
	ck_assert_uint_eq(rb.off, 0);
	rb_load("\x00\x03" "abc", 5);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "abc");
}
END_TEST

/* A bad byte anywhere in the string, at the start, middle or end. */
START_TEST(test_string_not_printable)
{
	static const uint8_t	bad[] = { 0x00, 0x1f, 0x7f, 0x80, 0xff };
	uint8_t			in[5] = { 0x00, 0x03, 'a', 'b', 'c' };
	char			dst[16];
	size_t			i, pos;

	for (i = 0; i < sizeof bad; i++) {
		for (pos = 2; pos < sizeof in; pos++) {
			memcpy(in + 2, "abc", 3);
			in[pos] = bad[i];
			rb_load(in, sizeof in);
			ck_assert_msg(rbuf_get_string(&rb, dst,
			    sizeof dst) == -1, "byte 0x%02x at %zu accepted",
			    bad[i], pos);
			ck_assert_uint_eq(rb.off, 0);
		}
	}
	/* The edges of the printable range are fine. */
	rb_load("\x00\x02\x20\x7e", 4);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), 0);
	ck_assert_str_eq(dst, " ~");
}
END_TEST

START_TEST(test_string_truncated)
{
	char	dst[16];

	rb_load("\x00\x05" "abcd", 6);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), -1);
	ck_assert_uint_eq(rb.off, 0);
	rb_load("\x00", 1);
	ck_assert_int_eq(rbuf_get_string(&rb, dst, sizeof dst), -1);
	ck_assert_uint_eq(rb.off, 0);
}
END_TEST

/* The writer's fixture: a small array with guard bytes after it. */
#define WCAP	8
static uint8_t		wmem[WCAP + 8];
static struct wbuf	wb;

static void
wsetup(void)
{
	memset(wmem, 0xaa, sizeof wmem);
	wbuf_init(&wb, wmem, WCAP);
}

static void
assert_guard(void)
{
	size_t	i;

	for (i = WCAP; i < sizeof wmem; i++)
		ck_assert_msg(wmem[i] == 0xaa, "wrote past the end at %zu", i);
}

START_TEST(test_wbuf_big_endian)
{
	wbuf_put_u8(&wb, 0x81);
	wbuf_put_u16(&wb, 0x8283);
	wbuf_put_u32(&wb, 0x84858687);
	ck_assert(wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 7);
	ck_assert_mem_eq(wmem, "\x81\x82\x83\x84\x85\x86\x87", 7);

	wbuf_init(&wb, wmem, WCAP);
	wbuf_put_u64(&wb, 0x0102030405060708ULL);
	ck_assert(wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 8);
	ck_assert_mem_eq(wmem, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_guard();
}
END_TEST

START_TEST(test_wbuf_string)
{
	wbuf_put_string(&wb, "abc");
	wbuf_put_string(&wb, "");
	ck_assert(wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 7);
	ck_assert_mem_eq(wmem, "\x00\x03" "abc" "\x00\x00", 7);
	wbuf_put_string(&wb, "");
	ck_assert(!wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 7);
	assert_guard();
}
END_TEST

/* Filling to the byte is fine; one more fails, and so does all after. */
START_TEST(test_wbuf_sticky_overflow)
{
	wbuf_put_u32(&wb, 1);
	wbuf_put_u16(&wb, 2);
	wbuf_put_u8(&wb, 3);
	ck_assert(wbuf_ok(&wb));
	wbuf_put_u16(&wb, 4);		/* 2 bytes into 1 */
	ck_assert(!wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 7);
	wbuf_put_u8(&wb, 5);		/* would fit, but overflow sticks */
	ck_assert(!wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 7);
	wbuf_put_bytes(&wb, "", 0);
	ck_assert(!wbuf_ok(&wb));
	wbuf_set_u32(&wb, 0, 0xffffffff);
	ck_assert_mem_eq(wmem, "\x00\x00\x00\x01\x00\x02\x03", 7);
	assert_guard();
}
END_TEST

START_TEST(test_wbuf_exact_fill)
{
	wbuf_put_bytes(&wb, "12345678", 8);
	ck_assert(wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, WCAP);
	wbuf_put_bytes(&wb, "", 0);
	ck_assert(wbuf_ok(&wb));
	wbuf_put_u8(&wb, 9);
	ck_assert(!wbuf_ok(&wb));
	assert_guard();

	wbuf_init(&wb, wmem, WCAP);
	wbuf_put_bytes(&wb, "x", SIZE_MAX);
	ck_assert(!wbuf_ok(&wb));
	ck_assert_uint_eq(wb.len, 0);
}
END_TEST

/* wbuf_set_u32 patches only within what was written. */
START_TEST(test_wbuf_set_u32)
{
	wbuf_put_u16(&wb, 0xaaaa);
	wbuf_put_u32(&wb, 0);
	wbuf_set_u32(&wb, 2, 0x01020304);
	ck_assert(wbuf_ok(&wb));
	ck_assert_mem_eq(wmem, "\xaa\xaa\x01\x02\x03\x04", 6);

	wbuf_set_u32(&wb, 3, 0);	/* 3..6, past len 6 */
	ck_assert(!wbuf_ok(&wb));
	ck_assert_mem_eq(wmem, "\xaa\xaa\x01\x02\x03\x04", 6);
	assert_guard();
}
END_TEST

START_TEST(test_wbuf_set_u32_bounds)
{
	static const size_t	bad_off[] = { 5, 6, 7, 100, SIZE_MAX - 1,
	    SIZE_MAX };
	size_t			i;

	for (i = 0; i < sizeof bad_off / sizeof bad_off[0]; i++) {
		wsetup();
		wbuf_put_u32(&wb, 0);
		wbuf_put_u16(&wb, 0);
		wbuf_set_u32(&wb, bad_off[i], 0x01020304);
		ck_assert_msg(!wbuf_ok(&wb), "set_u32 at %zu of 6 accepted",
		    bad_off[i]);
		ck_assert_mem_eq(wmem, "\0\0\0\0\0\0", 6);
		assert_guard();
	}
	/* Nothing written yet: no offset is valid. */
	wsetup();
	wbuf_set_u32(&wb, 0, 1);
	ck_assert(!wbuf_ok(&wb));
	assert_guard();
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc;

	tc = tcase_create("rbuf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_getter_short, 0, NGETTERS);
	tcase_add_loop_test(tc, test_getter_exact, 0, NGETTERS);
	tcase_add_test(tc, test_big_endian);
	tcase_add_test(tc, test_get_bytes);
	tcase_add_test(tc, test_string_ok);
	tcase_add_test(tc, test_string_empty);
	tcase_add_test(tc, test_string_too_long);
	tcase_add_test(tc, test_string_not_printable);
	tcase_add_test(tc, test_string_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("wbuf");
	tcase_add_checked_fixture(tc, wsetup, NULL);
	tcase_add_test(tc, test_wbuf_big_endian);
	tcase_add_test(tc, test_wbuf_string);
	tcase_add_test(tc, test_wbuf_sticky_overflow);
	tcase_add_test(tc, test_wbuf_exact_fill);
	tcase_add_test(tc, test_wbuf_set_u32);
	tcase_add_test(tc, test_wbuf_set_u32_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(buf_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
