/*
 * Datagram framing (dgram.h): a u16 length before each datagram.  The
 * decoder checks the length as soon as the two header bytes are in, so
 * that a malformed stream is refused before anything is buffered for it.
 */
#include "buf.h"
#include "dgram.h"

/* Writes the header for a datagram of len bytes; -1 if it is too long. */
int
dgram_hdr_encode(uint8_t hdr[PH_DGRAM_HDR_LEN], size_t len)
{
	if (len > PH_DGRAM_MAX)
		return -1;
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	return 0;
}

/*
 * Frames the datagram p[0..len) into out.  Returns the frame's length,
 * or 0 if the datagram is too long or out too small.
 */
size_t
dgram_encode(const void *p, size_t len, uint8_t *out, size_t cap)
{
	struct wbuf	b;

	if (len > PH_DGRAM_MAX)
		return 0;
	wbuf_init(&b, out, cap);
	wbuf_put_u16(&b, (uint16_t)len);
	wbuf_put_bytes(&b, p, len);
	return wbuf_ok(&b) ? b.len : 0;
}

/*
 * Decodes the datagram at the start of p[0..len).  On PH_DGRAM_OK,
 * *dg and *dglen give the datagram (inside p) and *used the bytes the
 * frame took; on PH_DGRAM_BAD, *err says why.
 */
int
dgram_decode(const uint8_t *p, size_t len, const uint8_t **dg, size_t *dglen,
    size_t *used, const char **err)
{
	struct rbuf	b;
	uint16_t	n;

	rbuf_init(&b, p, len);
	if (rbuf_get_u16(&b, &n) == -1)
		return PH_DGRAM_MORE;
	if (n > PH_DGRAM_MAX) {
		*err = "datagram longer than 65527 bytes";
		return PH_DGRAM_BAD;
	}
	if (rbuf_left(&b) < n)
		return PH_DGRAM_MORE;
	*dg = p + PH_DGRAM_HDR_LEN;
	*dglen = n;
	*used = PH_DGRAM_HDR_LEN + (size_t)n;
	return PH_DGRAM_OK;
}
