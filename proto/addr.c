#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

void
addr_any(int family, struct ph_addr *a)
{
	memset(a, 0, sizeof *a);
	a->family = family;
}

void
addr_loopback(int family, struct ph_addr *a)
{
	memset(a, 0, sizeof *a);
	a->family = family;
	if (family == AF_INET)
		a->u.v4.s_addr = htonl(INADDR_LOOPBACK);
	else
		a->u.v6 = in6addr_loopback;
}

int
addr_is_any(const struct ph_addr *a)
{
	if (a->family == AF_INET)
		return a->u.v4.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->u.v6);
}

/*
 * A wildcard bind: 0.0.0.0, :: or ::ffff:0.0.0.0.  Linux binds the last
 * to every IPv4 address (an IPv6 socket taking IPv4 connections), so the
 * policy must see it as the wildcard it is, not as an ordinary address.
 */
int
addr_is_wildcard(const struct ph_addr *a)
{
	if (addr_is_any(a))
		return 1;
	return a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->u.v6) &&
	    a->u.v6.s6_addr32[3] == htonl(INADDR_ANY);
}

/* 127.0.0.1 or ::1 exactly: the one loopback address every host has. */
int
addr_is_loopback1(const struct ph_addr *a)
{
	if (a->family == AF_INET)
		return a->u.v4.s_addr == htonl(INADDR_LOOPBACK);
	return IN6_IS_ADDR_LOOPBACK(&a->u.v6);
}

int
addr_cmp(const struct ph_addr *a, const struct ph_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->family == AF_INET)
		return memcmp(&a->u.v4, &b->u.v4, sizeof a->u.v4);
	return memcmp(&a->u.v6, &b->u.v6, sizeof a->u.v6);
}

int
addr_equal(const struct ph_addr *a, const struct ph_addr *b)
{
	return addr_cmp(a, b) == 0;
}

/* Parse a numeric IPv4 or IPv6 address (no brackets, no port). */
int
addr_parse(const char *s, struct ph_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, s, &a->u.v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->u.v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

const char *
addr_ntop(const struct ph_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, &a->u, buf, len) == NULL)
		strlcpy(buf, "?", len);
	return buf;
}

/* "127.0.0.1:80" or "[::1]:80" */
const char *
addr_fmt(const struct ph_addr *a, uint16_t port, char *buf, size_t len)
{
	char	ip[INET6_ADDRSTRLEN];

	addr_ntop(a, ip, sizeof ip);
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

socklen_t
addr_to_sockaddr(const struct ph_addr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		return sizeof *sin;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = a->u.v6;
	return sizeof *sin6;
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct ph_addr *a,
    uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)sa;

	memset(a, 0, sizeof *a);
	switch (sa->sa_family) {
	case AF_INET:
		a->family = AF_INET;
		a->u.v4 = sin->sin_addr;
		if (port != NULL)
			*port = ntohs(sin->sin_port);
		return 0;
	case AF_INET6:
		a->family = AF_INET6;
		a->u.v6 = sin6->sin6_addr;
		if (port != NULL)
			*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

const char *
proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case PH_KIND_UNIX:
		return "unix";
	}
	return "?";
}
