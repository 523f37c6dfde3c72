/*
 * Reverse entries' text (protocol 6), as -R and policy "reach" lines
 * give them, parsed here alone so that the policy fuzzer can reach it:
 *
 *	DEST		127.0.0.1:5432, [::1]:5432 or /abs/path.sock
 *	SIDE		PORT or ADDR:PORT (loopback, port 1024 up) or NAME
 *			(not digits alone: those are a port)
 *			default: 127.0.0.1 and DEST's port, or the
 *			socket file's name without ".sock"
 *
 * The guest side is held to what the guest will take (its own check in
 * guest-agent/reach.c is the same), so that a mistake is reported here,
 * with its line, rather than skipped in the VM.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "number.h"

/* "ADDR:PORT" or "[V6]:PORT" into a and port; -1 if it is not one. */
static int
reach_parse_hostport(const char *s, struct ph_addr *a, uint16_t *port)
{
	char		 name[PH_ADDRSTRLEN];
	const char	*colon, *errstr, *h = s;
	size_t		 hlen;

	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return -1;
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen) != NULL)
		return -1;	/* an IPv6 address goes in brackets */
	if (hlen == 0 || hlen >= sizeof name)
		return -1;
	memcpy(name, h, hlen);
	name[hlen] = '\0';
	if (addr_parse(name, a) == -1)
		return -1;
	*port = (uint16_t)number_parse(colon + 1, 1, 65535, &errstr);
	return errstr == NULL ? 0 : -1;
}

static int
reach_parse_dest(const char *s, struct reach_entry *e, char *err,
    size_t len)
{
	if (s[0] == '/') {
		if (strlen(s) >= sizeof e->dest_path) {
			snprintf(err, len, "%.40s...: a socket path is at most "
			    "%zu bytes", s, sizeof e->dest_path - 1);
			return -1;
		}
		e->dest_kind = PH_KIND_UNIX;
		strlcpy(e->dest_path, s, sizeof e->dest_path);
		strlcpy(e->dest_text, s, sizeof e->dest_text);
		return 0;
	}
	if (reach_parse_hostport(s, &e->dest_addr, &e->dest_port) == -1 ||
	    addr_is_any(&e->dest_addr)) {
		snprintf(err, len, "\"%.120s\" is neither ADDRESS:PORT "
		    "([IPv6]:PORT) nor an absolute socket path", s);
		return -1;
	}
	e->dest_kind = IPPROTO_TCP;
	addr_fmt(&e->dest_addr, e->dest_port, e->dest_text,
	    sizeof e->dest_text);
	return 0;
}

static int
reach_loopback(const struct ph_addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->u.v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->u.v6);
}

/* The side's default: DEST's port on 127.0.0.1, or its file's name. */
static int
reach_default_side(struct reach_entry *e, char *err, size_t len)
{
	struct ph_reach_entry	*g = &e->side;
	const char		*base, *why;
	size_t			 n;

	if (e->dest_kind == IPPROTO_TCP) {
		g->kind = IPPROTO_TCP;
		addr_parse("127.0.0.1", &g->addr);
		g->port = e->dest_port;
		if (g->port >= 1024)
			return 0;
		snprintf(err, len, "%s: give the guest a port of 1024 or "
		    "more (DEST=PORT, or \"as PORT\")", e->dest_text);
		return -1;
	}
	base = strrchr(e->dest_path, '/') + 1;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".sock") == 0)
		n -= 5;
	g->kind = PH_KIND_UNIX;
	/* Digits alone would read back as a port: such a name is given. */
	if (n < sizeof g->name && strspn(base, "0123456789") < n) {
		memcpy(g->name, base, n);
		g->name[n] = '\0';
		if (ph_sockname_check(g->name, &why) == 0)
			return 0;
	}
	snprintf(err, len, "%s: its file's name cannot name the guest's "
	    "socket: give one (DEST=NAME, or \"as NAME\")", e->dest_text);
	return -1;
}

static int
reach_parse_side(const char *s, struct reach_entry *e, char *err,
    size_t len)
{
	struct ph_reach_entry	*g = &e->side;
	const char		*errstr, *why;
	char			 port[8];

	if (s == NULL)
		return reach_default_side(e, err, len);
	g->kind = IPPROTO_TCP;
	if (strspn(s, "0123456789") == strlen(s)) {
		addr_parse("127.0.0.1", &g->addr);
		g->port = (uint16_t)number_parse(s, 1024, 65535, &errstr);
	} else if (reach_parse_hostport(s, &g->addr, &g->port) == 0) {
		snprintf(port, sizeof port, "%u", g->port);
		number_parse(port, 1024, 65535, &errstr);
		if (errstr == NULL && !reach_loopback(&g->addr))
			errstr = "not a loopback address of the guest";
	} else {
		g->kind = PH_KIND_UNIX;
		if (ph_sockname_check(s, &why) == 0) {
			strlcpy(g->name, s, sizeof g->name);
			return 0;
		}
		snprintf(err, len, "\"%.60s\": neither a port, a loopback "
		    "ADDRESS:PORT nor a socket name (%s)", s, why);
		return -1;
	}
	if (errstr != NULL) {
		snprintf(err, len, "guest side \"%.60s\": %s (ports 1024 to "
		    "65535, on loopback)", s, errstr);
		return -1;
	}
	return 0;
}

void
reach_side_text(const struct ph_reach_entry *g, char *buf, size_t len)
{
	if (g->kind == PH_KIND_UNIX)
		strlcpy(buf, g->name, len);
	else
		addr_fmt(&g->addr, g->port, buf, len);
}

/*
 * An entry from DEST and SIDE (NULL: the default); 0, or -1 with err
 * set.  Its id is given later (reach_adopt_ids(), reach_add_cli()).
 */
int
reach_parse(const char *dest, const char *side, struct reach_entry *e,
    char *err, size_t len)
{
	char	stext[PH_ADDRSTRLEN + PH_SOCKNAME_MAX];

	memset(e, 0, sizeof *e);
	e->guest = -1;
	if (reach_parse_dest(dest, e, err, len) == -1 ||
	    reach_parse_side(side, e, err, len) == -1)
		return -1;
	reach_side_text(&e->side, stext, sizeof stext);
	snprintf(e->text, sizeof e->text, "reach %s as %s", e->dest_text,
	    stext);
	return 0;
}
