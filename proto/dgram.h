/*
 * Datagram framing on a UDP flow's data stream.  After the DATA frame
 * that pairs it, a flow's stream carries whole datagrams both ways, each
 * as a big-endian u16 length and that many bytes:
 *
 *	u16 length, payload[length]
 *
 * A length of 0 is an empty datagram (UDP allows them).  A length above
 * PH_DGRAM_MAX, the largest UDP payload there is (IPv6's), is malformed
 * and ends the flow.  Pure functions, no I/O: see dgstream.c for that.
 */
#ifndef PH_DGRAM_H
#define PH_DGRAM_H

#include <stddef.h>
#include <stdint.h>

#define PH_DGRAM_HDR_LEN	2
#define PH_DGRAM_MAX4		65507	/* 65535 - 20 (IPv4) - 8 (UDP) */
#define PH_DGRAM_MAX		65527	/* 65535 - 8: IPv6's payload length */
#define PH_DGRAM_FRAME_MAX	(PH_DGRAM_HDR_LEN + PH_DGRAM_MAX)

/* dgram_decode() results, as for ph_frame_decode() */
#define PH_DGRAM_BAD		(-1)	/* malformed: end the flow */
#define PH_DGRAM_MORE		0	/* not all there yet */
#define PH_DGRAM_OK		1	/* a whole datagram */

int	dgram_hdr_encode(uint8_t [PH_DGRAM_HDR_LEN], size_t);
size_t	dgram_encode(const void *, size_t, uint8_t *, size_t);
int	dgram_decode(const uint8_t *, size_t, const uint8_t **, size_t *,
	    size_t *, const char **);

#endif
