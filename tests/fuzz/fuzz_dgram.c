/*
 * libFuzzer target for the datagram framing of UDP flows (proto/dgram.c).
 *
 * The input is read as a data stream is: frame after frame with
 * dgram_decode().  Each datagram that decodes must lie inside the input
 * and encode again to exactly the bytes it came from; a malformed frame
 * must say why; and every proper prefix of a whole frame must ask for
 * more rather than decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dgram.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	out[PH_DGRAM_FRAME_MAX];

static void
check_frame(const uint8_t *p, const uint8_t *dg, size_t dglen, size_t used)
{
	const uint8_t	*dg2;
	const char	*err = NULL;
	size_t		 n, dglen2, used2;

	if (used != PH_DGRAM_HDR_LEN + dglen || dg != p + PH_DGRAM_HDR_LEN ||
	    dglen > PH_DGRAM_MAX)
		abort();
	if ((n = dgram_encode(dg, dglen, out, sizeof out)) != used ||
	    memcmp(out, p, used) != 0)
		abort();
	/* A prefix never decodes: the header, then the last byte. */
	if (dgram_decode(p, 1, &dg2, &dglen2, &used2, &err) != PH_DGRAM_MORE ||
	    (used > PH_DGRAM_HDR_LEN && dgram_decode(p, used - 1, &dg2,
	    &dglen2, &used2, &err) != PH_DGRAM_MORE))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*dg;
	const char	*err;
	size_t		 off = 0, dglen, used;
	int		 r;

	for (;;) {
		err = NULL;
		dg = NULL;
		r = dgram_decode(data + off, size - off, &dg, &dglen, &used,
		    &err);
		if (r == PH_DGRAM_BAD && err == NULL)
			abort();	/* an error must say why */
		if (r != PH_DGRAM_OK)
			break;
		if (used > size - off)
			abort();
		check_frame(data + off, dg, dglen, used);
		off += used;
	}
	return 0;
}
