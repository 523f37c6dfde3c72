#include <string.h>

#include "buf.h"

void
rbuf_init(struct rbuf *b, const void *p, size_t len)
{
	b->p = p;
	b->len = len;
	b->off = 0;
}

size_t
rbuf_left(const struct rbuf *b)
{
	return b->len - b->off;
}

int
rbuf_get_bytes(struct rbuf *b, void *dst, size_t n)
{
	if (n > rbuf_left(b))
		return -1;
	if (n > 0)
		memcpy(dst, b->p + b->off, n);
	b->off += n;
	return 0;
}

int
rbuf_get_u8(struct rbuf *b, uint8_t *v)
{
	return rbuf_get_bytes(b, v, 1);
}

int
rbuf_get_u16(struct rbuf *b, uint16_t *v)
{
	uint8_t	x[2];

	if (rbuf_get_bytes(b, x, sizeof x) == -1)
		return -1;
	*v = (uint16_t)(x[0] << 8 | x[1]);
	return 0;
}

int
rbuf_get_u32(struct rbuf *b, uint32_t *v)
{
	uint8_t	x[4];

	if (rbuf_get_bytes(b, x, sizeof x) == -1)
		return -1;
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 |
	    (uint32_t)x[2] << 8 | x[3];
	return 0;
}

int
rbuf_get_u64(struct rbuf *b, uint64_t *v)
{
	uint32_t	hi, lo;
	size_t		off = b->off;

	if (rbuf_get_u32(b, &hi) == -1 || rbuf_get_u32(b, &lo) == -1) {
		b->off = off;
		return -1;
	}
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/*
 * A string is a u16 length and that many bytes, no terminator.  Only
 * printable ASCII is accepted: these strings end up in logs, JSON and
 * terminals.  dst must hold the string and a NUL.
 */
int
rbuf_get_string(struct rbuf *b, char *dst, size_t dstlen)
{
	uint16_t	n;
	size_t		off = b->off, i;

	if (rbuf_get_u16(b, &n) == -1)
		return -1;
	if (n >= dstlen || n > rbuf_left(b)) {
		b->off = off;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (b->p[b->off + i] < 0x20 || b->p[b->off + i] > 0x7e) {
			b->off = off;
			return -1;
		}
	}
	memcpy(dst, b->p + b->off, n);
	dst[n] = '\0';
	b->off += n;
	return 0;
}

void
wbuf_init(struct wbuf *b, void *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->overflow = 0;
}

int
wbuf_ok(const struct wbuf *b)
{
	return !b->overflow;
}

void
wbuf_put_bytes(struct wbuf *b, const void *src, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = 1;
		return;
	}
	if (n > 0)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

void
wbuf_put_u8(struct wbuf *b, uint8_t v)
{
	wbuf_put_bytes(b, &v, 1);
}

void
wbuf_put_u16(struct wbuf *b, uint16_t v)
{
	uint8_t	x[2] = { v >> 8, v & 0xff };

	wbuf_put_bytes(b, x, sizeof x);
}

void
wbuf_put_u32(struct wbuf *b, uint32_t v)
{
	uint8_t	x[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	wbuf_put_bytes(b, x, sizeof x);
}

void
wbuf_put_u64(struct wbuf *b, uint64_t v)
{
	wbuf_put_u32(b, (uint32_t)(v >> 32));
	wbuf_put_u32(b, (uint32_t)v);
}

void
wbuf_put_string(struct wbuf *b, const char *s)
{
	size_t	n = strlen(s);

	if (n > UINT16_MAX) {
		b->overflow = 1;
		return;
	}
	wbuf_put_u16(b, (uint16_t)n);
	wbuf_put_bytes(b, s, n);
}

/* Patch a u32 already written at offset off (the frame length). */
void
wbuf_set_u32(struct wbuf *b, size_t off, uint32_t v)
{
	if (b->overflow || off > b->len || b->len - off < 4) {
		b->overflow = 1;
		return;
	}
	b->p[off] = v >> 24;
	b->p[off + 1] = (v >> 16) & 0xff;
	b->p[off + 2] = (v >> 8) & 0xff;
	b->p[off + 3] = v & 0xff;
}
