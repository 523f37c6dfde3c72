/*
 * Frame codec.  Decoders read only through the rbuf getters, check every
 * field's range, and ignore trailing bytes (room for later fields).  A
 * decode error names what was wrong; the caller ends that peer's session.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

static const char *ph_type_names[] = {
	[PH_HELLO] = "HELLO", [PH_WELCOME] = "WELCOME",
	[PH_EXPOSE] = "EXPOSE", [PH_UNEXPOSE] = "UNEXPOSE",
	[PH_EXPOSED] = "EXPOSED", [PH_OPEN] = "OPEN", [PH_CLOSE] = "CLOSE",
	[PH_DATA] = "DATA", [PH_PING] = "PING", [PH_PONG] = "PONG",
	[PH_ERROR] = "ERROR", [PH_POOL] = "POOL", [PH_PAIR] = "PAIR",
	[PH_AUTH] = "AUTH", [PH_SHUT] = "SHUT", [PH_RELEASE] = "RELEASE",
	[PH_REACH] = "REACH", [PH_REVERSE] = "REVERSE",
};

const char *
ph_type_name(uint16_t type)
{
	if (type == 0 || type > PH_TYPE_MAX)
		return "unknown";
	return ph_type_names[type];
}

const char *
ph_verdict_name(uint8_t v)
{
	switch (v) {
	case PH_BOUND:
		return "bound";
	case PH_REWRITTEN:
		return "rewritten";
	case PH_REFUSED:
		return "refused";
	case PH_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *
ph_close_name(uint8_t how)
{
	switch (how) {
	case PH_CLOSE_REFUSED:
		return "refused";
	case PH_CLOSE_RESET:
		return "reset";
	case PH_CLOSE_ABORT:
		return "abort";
	}
	return "unknown";
}

int
ph_hdr_decode(const uint8_t *p, size_t len, struct ph_frame_hdr *h)
{
	struct rbuf	b;

	rbuf_init(&b, p, len);
	if (rbuf_get_u16(&b, &h->type) == -1 ||
	    rbuf_get_u16(&b, &h->flags) == -1 ||
	    rbuf_get_u32(&b, &h->length) == -1)
		return -1;
	return 0;
}

/* Checks a header before its payload is read: never trust length. */
int
ph_hdr_check(const struct ph_frame_hdr *h, uint32_t max_payload,
    const char **err)
{
	if (h->type == 0) {
		*err = "frame type 0";
		return -1;
	}
	if (h->length > max_payload) {
		*err = "frame longer than the maximum payload";
		return -1;
	}
	return 0;
}

static int
get_addr(struct rbuf *b, struct ph_addr *a)
{
	uint8_t	fam;
	size_t	off = b->off;

	memset(a, 0, sizeof *a);
	if (rbuf_get_u8(b, &fam) == -1)
		return -1;
	if (fam == 4) {
		a->family = AF_INET;
		if (rbuf_get_bytes(b, &a->u.v4, 4) == 0)
			return 0;
	} else if (fam == 6) {
		a->family = AF_INET6;
		if (rbuf_get_bytes(b, &a->u.v6, 16) == 0)
			return 0;
	}
	b->off = off;
	return -1;
}

static void
put_addr(struct wbuf *b, const struct ph_addr *a)
{
	if (a->family == AF_INET) {
		wbuf_put_u8(b, 4);
		wbuf_put_bytes(b, &a->u.v4, 4);
	} else if (a->family == AF_INET6) {
		wbuf_put_u8(b, 6);
		wbuf_put_bytes(b, &a->u.v6, 16);
	} else
		b->overflow = 1;	/* never send what we would not accept */
}

static int
dec_hello(struct rbuf *b, struct ph_hello *m, const char **err)
{
	if (rbuf_get_u16(b, &m->vmin) == -1 ||
	    rbuf_get_u16(b, &m->vmax) == -1 ||
	    rbuf_get_bytes(b, m->boot_id, sizeof m->boot_id) == -1 ||
	    rbuf_get_string(b, m->version, sizeof m->version) == -1 ||
	    rbuf_get_string(b, m->name, sizeof m->name) == -1) {
		*err = "HELLO truncated or with a bad string";
		return -1;
	}
	if (m->vmin > m->vmax) {
		*err = "HELLO version range is empty";
		return -1;
	}
	return 0;
}

static int
dec_welcome(struct rbuf *b, struct ph_welcome *m, const char **err)
{
	if (rbuf_get_u16(b, &m->version) == -1 ||
	    rbuf_get_u64(b, &m->session) == -1 ||
	    rbuf_get_u32(b, &m->max_payload) == -1 ||
	    rbuf_get_u32(b, &m->max_forwards) == -1 ||
	    rbuf_get_string(b, m->version_str, sizeof m->version_str) == -1) {
		*err = "WELCOME truncated or with a bad string";
		return -1;
	}
	if (m->max_payload < PH_FIRST_FRAME_MAX - PH_HDR_LEN) {
		*err = "WELCOME maximum payload too small";
		return -1;
	}
	/* Version 3's fields; an older host's WELCOME ends before them. */
	if (m->version < PH_PROTO_VERSION_AUTH)
		return 0;
	if (rbuf_get_u8(b, &m->auth) == -1 ||
	    rbuf_get_bytes(b, m->nonce, sizeof m->nonce) == -1) {
		*err = "WELCOME truncated before its nonce";
		return -1;
	}
	if (m->auth != PH_AUTH_NONE && m->auth != PH_AUTH_HMAC) {
		*err = "WELCOME asks for an unknown kind of proof";
		return -1;
	}
	return 0;
}

/*
 * A guest Unix socket's EXPOSE (v5), after the kind and flags: string
 * name, string path, string process.  Only bounded here: whether the
 * name may name a host socket is the host's to say (sockname.c), with
 * a reason the guest is told, rather than a session ended.
 */
static int
dec_expose_unix(struct rbuf *b, struct ph_expose *m, const char **err)
{
	if (rbuf_get_string(b, m->name, sizeof m->name) == -1 ||
	    rbuf_get_string(b, m->path, sizeof m->path) == -1 ||
	    rbuf_get_string(b, m->process, sizeof m->process) == -1) {
		*err = "EXPOSE of a socket truncated or with a bad string";
		return -1;
	}
	if (m->name[0] == '\0') {
		*err = "EXPOSE of a socket with an empty name";
		return -1;
	}
	m->flags = 0;
	return 0;
}

static int
dec_expose(struct rbuf *b, struct ph_expose *m, const char **err)
{
	if (rbuf_get_u32(b, &m->id) == -1 ||
	    rbuf_get_u8(b, &m->proto) == -1 ||
	    rbuf_get_u8(b, &m->flags) == -1) {
		*err = "EXPOSE truncated";
		return -1;
	}
	if (m->proto == PH_KIND_UNIX)
		return dec_expose_unix(b, m, err);
	if (get_addr(b, &m->addr) == -1 ||
	    rbuf_get_u16(b, &m->port) == -1 ||
	    rbuf_get_string(b, m->process, sizeof m->process) == -1) {
		*err = "EXPOSE truncated or with a bad address or string";
		return -1;
	}
	if (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) {
		*err = "EXPOSE protocol is neither tcp, udp nor unix";
		return -1;
	}
	if (m->port == 0) {
		*err = "EXPOSE port 0";
		return -1;
	}
	if (m->addr.family == AF_INET)
		m->flags &= ~PH_EXPOSE_V6ONLY;
	return 0;
}

static int
dec_exposed(struct rbuf *b, struct ph_exposed *m, const char **err)
{
	uint8_t	i;

	if (rbuf_get_u32(b, &m->id) == -1 ||
	    rbuf_get_u8(b, &m->verdict) == -1 ||
	    rbuf_get_u8(b, &m->naddr) == -1) {
		*err = "EXPOSED truncated";
		return -1;
	}
	if (m->verdict < PH_BOUND || m->verdict > PH_FAILED) {
		*err = "EXPOSED verdict out of range";
		return -1;
	}
	if (m->naddr > PH_HOSTADDR_MAX) {
		*err = "EXPOSED has too many host addresses";
		return -1;
	}
	for (i = 0; i < m->naddr; i++) {
		if (get_addr(b, &m->host[i].addr) == -1 ||
		    rbuf_get_u16(b, &m->host[i].port) == -1) {
			*err = "EXPOSED host address truncated";
			return -1;
		}
	}
	if (rbuf_get_string(b, m->reason, sizeof m->reason) == -1) {
		*err = "EXPOSED reason truncated or not printable";
		return -1;
	}
	return 0;
}

static int
dec_close(struct rbuf *b, struct ph_close *m, const char **err)
{
	if (rbuf_get_u64(b, &m->conn) == -1 ||
	    rbuf_get_u8(b, &m->how) == -1 ||
	    rbuf_get_string(b, m->reason, sizeof m->reason) == -1) {
		*err = "CLOSE truncated or with a bad string";
		return -1;
	}
	return 0;
}

static int
dec_error(struct rbuf *b, struct ph_error *m, const char **err)
{
	if (rbuf_get_u32(b, &m->code) == -1 ||
	    rbuf_get_string(b, m->message, sizeof m->message) == -1) {
		*err = "ERROR truncated or with a bad string";
		return -1;
	}
	return 0;
}

/*
 * One reverse entry of REACH (v6): u32 id, u8 kind, then an address and
 * u16 port (tcp) or a string name (unix).  Only bounded here: whether
 * the guest may listen there is the guest's to check (reach.c), entry
 * by entry.
 */
static int
dec_reach_entry(struct rbuf *b, struct ph_reach_entry *e, const char **err)
{
	if (rbuf_get_u32(b, &e->id) == -1 || rbuf_get_u8(b, &e->kind) == -1) {
		*err = "REACH entry truncated";
		return -1;
	}
	if (e->id == 0) {
		*err = "REACH entry with id 0";
		return -1;
	}
	if (e->kind == PH_KIND_UNIX) {
		if (rbuf_get_string(b, e->name, sizeof e->name) == -1 ||
		    e->name[0] == '\0') {
			*err = "REACH socket name truncated, empty or too long";
			return -1;
		}
		return 0;
	}
	if (e->kind != IPPROTO_TCP) {
		*err = "REACH entry kind is neither tcp nor unix";
		return -1;
	}
	if (get_addr(b, &e->addr) == -1 || rbuf_get_u16(b, &e->port) == -1 ||
	    e->port == 0) {
		*err = "REACH address truncated, or port 0";
		return -1;
	}
	return 0;
}

static int
dec_reach(struct rbuf *b, struct ph_reach *m, const char **err)
{
	uint8_t	i;

	if (rbuf_get_u8(b, &m->n) == -1) {
		*err = "REACH truncated";
		return -1;
	}
	if (m->n > PH_REACH_MAX) {
		*err = "REACH lists too many entries";
		return -1;
	}
	for (i = 0; i < m->n; i++)
		if (dec_reach_entry(b, &m->e[i], err) == -1)
			return -1;
	return 0;
}

/* REVERSE: u64 session, u32 entry, u32 flags (none yet; 16 bytes). */
static int
dec_reverse(struct rbuf *b, struct ph_reverse *m, const char **err)
{
	uint32_t	flags;

	if (rbuf_get_u64(b, &m->session) == -1 ||
	    rbuf_get_u32(b, &m->entry) == -1 ||
	    rbuf_get_u32(b, &flags) == -1) {
		*err = "REVERSE truncated";
		return -1;
	}
	return 0;
}

/*
 * Decodes one payload of the given type.  Returns 0, or -1 with *err set
 * (for an unknown type too: ph_frame_decode() tells the two apart).
 */
int
ph_msg_decode(uint16_t type, const uint8_t *p, size_t len, struct ph_msg *m,
    const char **err)
{
	struct rbuf	b;

	memset(m, 0, sizeof *m);
	m->type = type;
	rbuf_init(&b, p, len);
	switch (type) {
	case PH_HELLO:
		return dec_hello(&b, &m->u.hello, err);
	case PH_WELCOME:
		return dec_welcome(&b, &m->u.welcome, err);
	case PH_EXPOSE:
		return dec_expose(&b, &m->u.expose, err);
	case PH_UNEXPOSE:
		if (rbuf_get_u32(&b, &m->u.unexpose.id) == 0)
			return 0;
		*err = "UNEXPOSE truncated";
		return -1;
	case PH_EXPOSED:
		return dec_exposed(&b, &m->u.exposed, err);
	case PH_OPEN:
		if (rbuf_get_u64(&b, &m->u.open.conn) == 0 &&
		    rbuf_get_u32(&b, &m->u.open.forward) == 0)
			return 0;
		*err = "OPEN truncated";
		return -1;
	case PH_CLOSE:
		return dec_close(&b, &m->u.close, err);
	case PH_DATA:
		if (rbuf_get_u64(&b, &m->u.data.session) == 0 &&
		    rbuf_get_u64(&b, &m->u.data.conn) == 0)
			return 0;
		*err = "DATA truncated";
		return -1;
	case PH_PING:
	case PH_PONG:
		if (rbuf_get_u64(&b, &m->u.ping.nonce) == 0)
			return 0;
		*err = "PING/PONG truncated";
		return -1;
	case PH_ERROR:
		return dec_error(&b, &m->u.error, err);
	case PH_POOL:
		if (rbuf_get_u64(&b, &m->u.pool.session) == 0 &&
		    rbuf_get_u64(&b, &m->u.pool.stream) == 0)
			return 0;
		*err = "POOL truncated";
		return -1;
	case PH_AUTH:
		if (rbuf_get_bytes(&b, m->u.auth.proof, PH_PROOF_LEN) == 0)
			return 0;
		*err = "AUTH truncated";
		return -1;
	case PH_PAIR:
		if (rbuf_get_u64(&b, &m->u.pair.conn) == 0 &&
		    rbuf_get_u32(&b, &m->u.pair.forward) == 0 &&
		    rbuf_get_u64(&b, &m->u.pair.stream) == 0)
			return 0;
		*err = "PAIR truncated";
		return -1;
	case PH_SHUT:
		if (rbuf_get_u64(&b, &m->u.shut.conn) == 0 &&
		    rbuf_get_u64(&b, &m->u.shut.bytes) == 0)
			return 0;
		*err = "SHUT truncated";
		return -1;
	case PH_RELEASE:
		if (rbuf_get_u64(&b, &m->u.release.conn) == 0 &&
		    rbuf_get_u64(&b, &m->u.release.stream) == 0)
			return 0;
		*err = "RELEASE truncated";
		return -1;
	case PH_REACH:
		return dec_reach(&b, &m->u.reach, err);
	case PH_REVERSE:
		return dec_reverse(&b, &m->u.reverse, err);
	}
	*err = "unknown frame type";
	return -1;
}

/*
 * Decodes the frame at the start of p: PH_FRAME_OK with *used set,
 * PH_FRAME_MORE when the frame is not all there, PH_FRAME_UNKNOWN (with
 * m->type and *used set) for a well-formed frame of a type this version
 * does not know, which the caller skips, and PH_FRAME_BAD with *err set.
 */
int
ph_frame_decode(const uint8_t *p, size_t len, uint32_t max_payload,
    struct ph_msg *m, size_t *used, const char **err)
{
	struct ph_frame_hdr	h;

	if (ph_hdr_decode(p, len, &h) == -1)
		return PH_FRAME_MORE;
	if (ph_hdr_check(&h, max_payload, err) == -1)
		return PH_FRAME_BAD;
	if (len - PH_HDR_LEN < h.length)
		return PH_FRAME_MORE;
	*used = PH_HDR_LEN + h.length;
	if (h.type > PH_TYPE_MAX) {
		memset(m, 0, sizeof *m);
		m->type = h.type;
		return PH_FRAME_UNKNOWN;
	}
	if (ph_msg_decode(h.type, p + PH_HDR_LEN, h.length, m, err) == -1)
		return PH_FRAME_BAD;
	return PH_FRAME_OK;
}

static void
enc_reach(struct wbuf *b, const struct ph_reach *m)
{
	const struct ph_reach_entry	*e;
	uint8_t				 i;

	if (m->n > PH_REACH_MAX) {
		b->overflow = 1;
		return;
	}
	wbuf_put_u8(b, m->n);
	for (i = 0; i < m->n; i++) {
		e = &m->e[i];
		wbuf_put_u32(b, e->id);
		wbuf_put_u8(b, e->kind);
		if (e->id == 0)
			b->overflow = 1;
		if (e->kind == PH_KIND_UNIX) {
			if (e->name[0] == '\0')
				b->overflow = 1;
			wbuf_put_string(b, e->name);
		} else if (e->kind == IPPROTO_TCP && e->port != 0) {
			put_addr(b, &e->addr);
			wbuf_put_u16(b, e->port);
		} else
			b->overflow = 1;
	}
}

static void
enc_payload(struct wbuf *b, const struct ph_msg *m)
{
	const struct ph_exposed	*x = &m->u.exposed;
	uint8_t			 i;

	switch (m->type) {
	case PH_HELLO:
		wbuf_put_u16(b, m->u.hello.vmin);
		wbuf_put_u16(b, m->u.hello.vmax);
		wbuf_put_bytes(b, m->u.hello.boot_id, PH_BOOTID_LEN);
		wbuf_put_string(b, m->u.hello.version);
		wbuf_put_string(b, m->u.hello.name);
		break;
	case PH_WELCOME:
		wbuf_put_u16(b, m->u.welcome.version);
		wbuf_put_u64(b, m->u.welcome.session);
		wbuf_put_u32(b, m->u.welcome.max_payload);
		wbuf_put_u32(b, m->u.welcome.max_forwards);
		wbuf_put_string(b, m->u.welcome.version_str);
		if (m->u.welcome.version < PH_PROTO_VERSION_AUTH)
			break;
		wbuf_put_u8(b, m->u.welcome.auth);
		wbuf_put_bytes(b, m->u.welcome.nonce, PH_NONCE_LEN);
		break;
	case PH_AUTH:
		wbuf_put_bytes(b, m->u.auth.proof, PH_PROOF_LEN);
		break;
	case PH_EXPOSE:
		wbuf_put_u32(b, m->u.expose.id);
		wbuf_put_u8(b, m->u.expose.proto);
		wbuf_put_u8(b, m->u.expose.flags);
		if (m->u.expose.proto == PH_KIND_UNIX) {
			if (m->u.expose.name[0] == '\0')
				b->overflow = 1;
			wbuf_put_string(b, m->u.expose.name);
			wbuf_put_string(b, m->u.expose.path);
		} else {
			put_addr(b, &m->u.expose.addr);
			wbuf_put_u16(b, m->u.expose.port);
		}
		wbuf_put_string(b, m->u.expose.process);
		break;
	case PH_UNEXPOSE:
		wbuf_put_u32(b, m->u.unexpose.id);
		break;
	case PH_EXPOSED:
		if (x->naddr > PH_HOSTADDR_MAX)
			b->overflow = 1;
		wbuf_put_u32(b, x->id);
		wbuf_put_u8(b, x->verdict);
		wbuf_put_u8(b, x->naddr);
		for (i = 0; i < x->naddr && i < PH_HOSTADDR_MAX; i++) {
			put_addr(b, &x->host[i].addr);
			wbuf_put_u16(b, x->host[i].port);
		}
		wbuf_put_string(b, x->reason);
		break;
	case PH_OPEN:
		wbuf_put_u64(b, m->u.open.conn);
		wbuf_put_u32(b, m->u.open.forward);
		break;
	case PH_CLOSE:
		wbuf_put_u64(b, m->u.close.conn);
		wbuf_put_u8(b, m->u.close.how);
		wbuf_put_string(b, m->u.close.reason);
		break;
	case PH_DATA:
		wbuf_put_u64(b, m->u.data.session);
		wbuf_put_u64(b, m->u.data.conn);
		break;
	case PH_PING:
	case PH_PONG:
		wbuf_put_u64(b, m->u.ping.nonce);
		break;
	case PH_ERROR:
		wbuf_put_u32(b, m->u.error.code);
		wbuf_put_string(b, m->u.error.message);
		break;
	case PH_POOL:
		wbuf_put_u64(b, m->u.pool.session);
		wbuf_put_u64(b, m->u.pool.stream);
		break;
	case PH_PAIR:
		wbuf_put_u64(b, m->u.pair.conn);
		wbuf_put_u32(b, m->u.pair.forward);
		wbuf_put_u64(b, m->u.pair.stream);
		break;
	case PH_SHUT:
		wbuf_put_u64(b, m->u.shut.conn);
		wbuf_put_u64(b, m->u.shut.bytes);
		break;
	case PH_RELEASE:
		wbuf_put_u64(b, m->u.release.conn);
		wbuf_put_u64(b, m->u.release.stream);
		break;
	case PH_REACH:
		enc_reach(b, &m->u.reach);
		break;
	case PH_REVERSE:
		wbuf_put_u64(b, m->u.reverse.session);
		wbuf_put_u32(b, m->u.reverse.entry);
		wbuf_put_u32(b, 0);
		break;
	default:
		b->overflow = 1;	/* we never send what we cannot name */
	}
}

/* Encodes m as a whole frame into out; returns its length, 0 if it won't fit. */
size_t
ph_msg_encode(const struct ph_msg *m, uint8_t *out, size_t cap)
{
	struct wbuf	b;

	wbuf_init(&b, out, cap);
	wbuf_put_u16(&b, m->type);
	wbuf_put_u16(&b, 0);
	wbuf_put_u32(&b, 0);
	enc_payload(&b, m);
	wbuf_set_u32(&b, 4, (uint32_t)(b.len - PH_HDR_LEN));
	if (!wbuf_ok(&b) || b.len - PH_HDR_LEN > PH_PAYLOAD_MAX)
		return 0;
	return b.len;
}
