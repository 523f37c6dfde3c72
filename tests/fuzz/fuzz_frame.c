/*
 * libFuzzer target for the frame codec (proto/proto.c).
 *
 * The input is read as a stream of frames by ph_frame_decode(), as a
 * session reads its peer; each frame that decodes is encoded again and
 * must decode to the same message; a guest socket's name is checked as
 * the host checks it (sockname.c).  The input is also fed whole to
 * ph_msg_decode() as the payload of every type, and split into a type
 * (its first two bytes) and a payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	out[PH_FRAME_MAX];

/* A decoded message must encode, and decode to itself. */
static void
round_trip(const struct ph_msg *m)
{
	struct ph_msg	 again;
	const char	*err = NULL;
	size_t		 n, used = 0;

	if ((n = ph_msg_encode(m, out, sizeof out)) == 0)
		abort();	/* a valid message that cannot be sent */
	if (ph_frame_decode(out, n, PH_PAYLOAD_MAX, &again, &used,
	    &err) != 1 || used != n)
		abort();
	if (memcmp(&again, m, sizeof again) != 0)
		abort();
	/* A guest socket's name, as the host checks it: a verdict, a why. */
	err = NULL;
	if (m->type == PH_EXPOSE && m->u.expose.proto == PH_KIND_UNIX &&
	    ph_sockname_check(m->u.expose.name, &err) == -1 && err == NULL)
		abort();
}

static void
decode_payload(uint16_t type, const uint8_t *p, size_t len)
{
	struct ph_msg	 m;
	const char	*err = NULL;

	if (ph_msg_decode(type, p, len, &m, &err) == 0)
		round_trip(&m);
	else if (err == NULL || m.type != type)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_msg	 m;
	const char	*err;
	size_t		 off = 0, used;
	uint16_t	 type;
	int		 r;

	for (;;) {
		err = NULL;
		used = 0;
		r = ph_frame_decode(data + off, size - off, PH_PAYLOAD_MAX, &m,
		    &used, &err);
		if (r != PH_FRAME_OK && r != PH_FRAME_UNKNOWN) {
			if (r == PH_FRAME_BAD && err == NULL)
				abort();	/* an error must say why */
			break;
		}
		if (used < PH_HDR_LEN || used > size - off)
			abort();
		if (r == PH_FRAME_OK)
			round_trip(&m);
		off += used;
	}

	for (type = 0; type <= PH_TYPE_MAX + 1; type++)
		decode_payload(type, data, size);
	if (size >= 2) {
		type = (uint16_t)(data[0] << 8 | data[1]);
		decode_payload(type, data + 2, size - 2);
	}
	return 0;
}
