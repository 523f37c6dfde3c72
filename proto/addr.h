/* IPv4/IPv6 addresses as both agents pass them around. */
#ifndef PH_ADDR_H
#define PH_ADDR_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>

struct ph_addr {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} u;
};

/* "[::1]:8080" at most, plus room for a scope or a mapped address */
#define PH_ADDRSTRLEN	(INET6_ADDRSTRLEN + 8)

void		 addr_any(int, struct ph_addr *);
void		 addr_loopback(int, struct ph_addr *);
int		 addr_is_any(const struct ph_addr *);
int		 addr_is_wildcard(const struct ph_addr *);
int		 addr_is_loopback1(const struct ph_addr *);
int		 addr_equal(const struct ph_addr *, const struct ph_addr *);
int		 addr_cmp(const struct ph_addr *, const struct ph_addr *);
int		 addr_parse(const char *, struct ph_addr *);
const char	*addr_ntop(const struct ph_addr *, char *, size_t);
const char	*addr_fmt(const struct ph_addr *, uint16_t, char *, size_t);
socklen_t	 addr_to_sockaddr(const struct ph_addr *, uint16_t,
		    struct sockaddr_storage *);
int		 addr_from_sockaddr(const struct sockaddr *, struct ph_addr *,
		    uint16_t *);
/* EXPOSE's kind for a guest Unix stream socket (v5): no IP protocol. */
#define PH_KIND_UNIX		253
const char	*proto_name(uint8_t);

#endif
