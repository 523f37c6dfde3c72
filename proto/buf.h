/*
 * Bounds-checked cursors over byte buffers, in the spirit of OpenSSH's
 * sshbuf: a getter either consumes exactly what it returns or consumes
 * nothing and returns -1.  Everything read from a peer goes through these.
 */
#ifndef PH_BUF_H
#define PH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

void	rbuf_init(struct rbuf *, const void *, size_t);
size_t	rbuf_left(const struct rbuf *);
int	rbuf_get_u8(struct rbuf *, uint8_t *);
int	rbuf_get_u16(struct rbuf *, uint16_t *);
int	rbuf_get_u32(struct rbuf *, uint32_t *);
int	rbuf_get_u64(struct rbuf *, uint64_t *);
int	rbuf_get_bytes(struct rbuf *, void *, size_t);
int	rbuf_get_string(struct rbuf *, char *, size_t);

/*
 * A writer over a caller-supplied array.  Overflow is sticky: once a put
 * does not fit, every later put fails too and wbuf_ok() says so, so
 * encoders check once at the end.
 */
struct wbuf {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	int		 overflow;
};

void	wbuf_init(struct wbuf *, void *, size_t);
int	wbuf_ok(const struct wbuf *);
void	wbuf_put_u8(struct wbuf *, uint8_t);
void	wbuf_put_u16(struct wbuf *, uint16_t);
void	wbuf_put_u32(struct wbuf *, uint32_t);
void	wbuf_put_u64(struct wbuf *, uint64_t);
void	wbuf_put_bytes(struct wbuf *, const void *, size_t);
void	wbuf_put_string(struct wbuf *, const char *);
void	wbuf_set_u32(struct wbuf *, size_t, uint32_t);

#endif
