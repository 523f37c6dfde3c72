/*
 * The proxy socket's request and answer lines (pxmsg.h): made and read
 * here only, by the guest agent and by porthole-docker-proxy alike.
 * Pure, so that the unit tests and the fuzz target hold it to every
 * byte.  Each side reads the other's line as untrusted: one line, of
 * a bounded length, printable ASCII, fields separated by one space,
 * each field checked on its own.
 */
#include <string.h>
#include <stdio.h>

#include "pxmsg.h"

static const char *const verdicts[] = {
	NULL, "bound", "rewritten", "refused", "failed", "pending",
	"ignored", "busy", "denied", "invalid"
};

const char *
pxmsg_verdict_name(int v)
{
	if (v < PX_BOUND || v > PX_INVALID)
		return NULL;
	return verdicts[v];
}

/* Whether the proxy must fail (and report it) rather than bind. */
int
pxmsg_verdict_fails(int v)
{
	return v == PX_REFUSED || v == PX_FAILED || v == PX_DENIED ||
	    v == PX_INVALID;
}

static int
pxmsg_verdict_parse(const char *s)
{
	int	v;

	for (v = PX_BOUND; v <= PX_INVALID; v++)
		if (strcmp(s, verdicts[v]) == 0)
			return v;
	return 0;
}

/* src with every byte that is not printable ASCII made '?'. */
void
pxmsg_printable(char *dst, size_t len, const char *src)
{
	size_t	i;

	if (len == 0)
		return;
	for (i = 0; i + 1 < len && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * buf, len bytes, is one line of at most max bytes: copied to line
 * without its newline.  -1 with err set if not.
 */
static int
pxmsg_line(const char *buf, size_t len, size_t max, char *line, char *err,
    size_t errlen)
{
	size_t	i;

	if (len > max) {
		snprintf(err, errlen, "longer than %zu bytes", max);
		return -1;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		snprintf(err, errlen, "not a line ending in a newline");
		return -1;
	}
	for (i = 0; i + 1 < len; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e) {
			snprintf(err, errlen, "byte %zu (0x%02x) is not "
			    "printable ASCII", i, (unsigned char)buf[i]);
			return -1;
		}
	memcpy(line, buf, len - 1);
	line[len - 1] = '\0';
	return 0;
}

/* The next field of *s, up to one space; NULL if there is none. */
static char *
pxmsg_field(char **s)
{
	char	*f = *s;

	if (f == NULL || *f == '\0' || *f == ' ')
		return NULL;
	if ((*s = strchr(f, ' ')) != NULL)
		*(*s)++ = '\0';
	return f;
}

static int
pxmsg_port(const char *s, uint16_t *port)
{
	size_t		n = strlen(s), i;
	unsigned long	v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int
pxmsg_name_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n < PXMSG_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuv"
	    "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int
pxmsg_proto(const char *s, uint8_t *proto)
{
	if (strcmp(s, "tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcmp(s, "udp") == 0)
		*proto = IPPROTO_UDP;
	else
		return -1;
	return 0;
}

int
pxmsg_req_format(const struct pxmsg_req *r, char *buf, size_t len)
{
	char	a[PH_ADDRSTRLEN];
	int	n;

	if ((r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) ||
	    r->port == 0 || !pxmsg_name_ok(r->name))
		return -1;
	n = snprintf(buf, len, "%s %s %s %u %s\n", PXMSG_MAGIC,
	    r->proto == IPPROTO_TCP ? "tcp" : "udp", addr_ntop(&r->addr, a,
	    sizeof a), r->port, r->name);
	return n > 0 && (size_t)n < len && (size_t)n <= PXMSG_REQ_MAX ? n : -1;
}

/* One request line from a proxy: 0 with *r filled, or -1 and why. */
int
pxmsg_req_parse(const char *buf, size_t len, struct pxmsg_req *r,
    char *err, size_t errlen)
{
	char	 line[PXMSG_REQ_MAX], *s = line, *f[5];
	int	 i;

	if (pxmsg_line(buf, len, sizeof line, line, err, errlen) == -1)
		return -1;
	memset(r, 0, sizeof *r);
	for (i = 0; i < 5; i++)
		if ((f[i] = pxmsg_field(&s)) == NULL) {
			snprintf(err, errlen, "%d fields, not 5", i);
			return -1;
		}
	if (s != NULL) {
		snprintf(err, errlen, "more than 5 fields");
		return -1;
	}
	if (strcmp(f[0], PXMSG_MAGIC) != 0)
		snprintf(err, errlen, "not a %s request", PXMSG_MAGIC);
	else if (pxmsg_proto(f[1], &r->proto) == -1)
		snprintf(err, errlen, "protocol \"%s\" is not tcp or udp",
		    f[1]);
	else if (addr_parse(f[2], &r->addr) == -1)
		snprintf(err, errlen, "\"%s\" is not an IP address", f[2]);
	else if (pxmsg_port(f[3], &r->port) == -1)
		snprintf(err, errlen, "port \"%s\" is not 1 to 65535", f[3]);
	else if (!pxmsg_name_ok(f[4]))
		snprintf(err, errlen, "name \"%s\" is not 1 to 15 of "
		    "[A-Za-z0-9._-]", f[4]);
	else {
		strlcpy(r->name, f[4], sizeof r->name);
		return 0;
	}
	return -1;
}

static int
pxmsg_hosts_ok(const char *s)
{
	size_t	n = strlen(s);

	if (strcmp(s, "-") == 0)
		return 1;
	return n > 0 && n < PXMSG_HOSTS_MAX &&
	    strspn(s, "0123456789abcdefABCDEF.:,[]") == n;
}

int
pxmsg_ans_format(const struct pxmsg_ans *a, char *buf, size_t len)
{
	const char	*v = pxmsg_verdict_name(a->verdict);
	const char	*hosts = a->hosts[0] != '\0' ? a->hosts : "-";
	char		 clean[PXMSG_REASON_MAX];
	int		 n;

	pxmsg_printable(clean, sizeof clean, a->reason);
	if (v == NULL || !pxmsg_hosts_ok(hosts) || clean[0] == '\0')
		return -1;
	n = snprintf(buf, len, "%s %s %s\n", v, hosts, clean);
	return n > 0 && (size_t)n < len && (size_t)n <= PXMSG_ANS_MAX ? n : -1;
}

/* The agent's answer: 0 with *a filled, or -1 and why. */
int
pxmsg_ans_parse(const char *buf, size_t len, struct pxmsg_ans *a,
    char *err, size_t errlen)
{
	char	 line[PXMSG_ANS_MAX], *s = line, *v, *h;

	if (pxmsg_line(buf, len, sizeof line, line, err, errlen) == -1)
		return -1;
	memset(a, 0, sizeof *a);
	if ((v = pxmsg_field(&s)) == NULL || (h = pxmsg_field(&s)) == NULL ||
	    s == NULL || *s == '\0') {
		snprintf(err, errlen, "not VERDICT HOSTS REASON");
		return -1;
	}
	if ((a->verdict = pxmsg_verdict_parse(v)) == 0) {
		snprintf(err, errlen, "unknown verdict \"%s\"", v);
		return -1;
	}
	if (!pxmsg_hosts_ok(h)) {
		snprintf(err, errlen, "\"%s\" is not a list of host addresses",
		    h);
		return -1;
	}
	if (strlcpy(a->reason, s, sizeof a->reason) >= sizeof a->reason) {
		snprintf(err, errlen, "a reason longer than %d bytes",
		    PXMSG_REASON_MAX - 1);
		return -1;
	}
	strlcpy(a->hosts, strcmp(h, "-") == 0 ? "" : h, sizeof a->hosts);
	return 0;
}
