/*
 * One renderer for a table of forwards (fwtable.h).  Fields missing
 * from an object (an older or newer agent), null or empty print as "-".
 * Two passes over the array, the first for the widths, so that nothing
 * is allocated and a huge table cannot fail half printed.
 */
#include <string.h>

#include "fwtable.h"

enum { C_GUEST, C_PROTO, C_GADDR, C_HADDR, C_VERDICT, C_CONNS, C_PROC,
    C_REASON, NCOLS };

static const char *const fwtable_heads[NCOLS] = { "GUEST", "PROTO",
    "GUEST ADDRESS", "HOST ADDRESS", "VERDICT", "CONNS", "PROCESS",
    "REASON" };

#define FWTABLE_CELL	512

struct fwrow {
	char	c[NCOLS][FWTABLE_CELL];
};

const char *
fwtable_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : "-";
}

static long long
fwtable_int(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "127.0.0.1:80", "[::1]:80" */
void
fwtable_addr(char *buf, size_t len, const char *addr, long long port)
{
	if (strchr(addr, ':') != NULL)
		snprintf(buf, len, "[%s]:%lld", addr, port);
	else
		snprintf(buf, len, "%s:%lld", addr, port);
}

/* The host listeners, "a,b", or "-" when there is none. */
static void
fwtable_hosts(char *buf, size_t len, json_t *f)
{
	json_t	*h;
	char	 one[80];
	size_t	 i;

	buf[0] = '\0';
	json_array_foreach(json_object_get(f, "host"), i, h) {
		fwtable_addr(one, sizeof one, fwtable_str(h, "address"),
		    fwtable_int(h, "port"));
		if (i > 0)
			strlcat(buf, ",", len);
		strlcat(buf, one, len);
	}
	if (buf[0] == '\0')
		strlcpy(buf, "-", len);
}

static void
fwtable_row(json_t *f, struct fwrow *r)
{
	int	sock = strcmp(fwtable_str(f, "proto"), "unix") == 0;

	strlcpy(r->c[C_GUEST], fwtable_str(f, "guest"), FWTABLE_CELL);
	strlcpy(r->c[C_PROTO], fwtable_str(f, "proto"), FWTABLE_CELL);
	/* A guest socket: its path in the guest, and on the host. */
	if (sock) {
		strlcpy(r->c[C_GADDR], fwtable_str(f, "guest_path"),
		    FWTABLE_CELL);
		strlcpy(r->c[C_HADDR], fwtable_str(f, "host_path"),
		    FWTABLE_CELL);
	} else {
		fwtable_addr(r->c[C_GADDR], FWTABLE_CELL,
		    fwtable_str(f, "guest_address"),
		    fwtable_int(f, "guest_port"));
		fwtable_hosts(r->c[C_HADDR], FWTABLE_CELL, f);
	}
	strlcpy(r->c[C_VERDICT], fwtable_str(f, "verdict"), FWTABLE_CELL);
	snprintf(r->c[C_CONNS], FWTABLE_CELL, "%lld/%lld",
	    fwtable_int(f, "connections_active"),
	    fwtable_int(f, "connections_total"));
	strlcpy(r->c[C_PROC], fwtable_str(f, "process"), FWTABLE_CELL);
	strlcpy(r->c[C_REASON], fwtable_str(f, "reason"), FWTABLE_CELL);
}

static int
fwtable_shown(int c, int flags)
{
	if (c == C_GUEST)
		return (flags & FWTABLE_GUEST) != 0;
	if (c == C_CONNS)
		return (flags & FWTABLE_CONNS) != 0;
	return 1;
}

/* Columns padded to their width; the last, REASON, is not padded. */
static void
fwtable_line(FILE *fp, const char *const cell[NCOLS],
    const int width[NCOLS], int flags)
{
	int	c;

	for (c = 0; c < C_REASON; c++)
		if (fwtable_shown(c, flags))
			fprintf(fp, "%-*s  ", width[c], cell[c]);
	fprintf(fp, "%s\n", cell[C_REASON]);
}

static void
fwtable_cells(const struct fwrow *r, const char *cell[NCOLS])
{
	int	c;

	for (c = 0; c < NCOLS; c++)
		cell[c] = r->c[c];
}

void
fwtable_print(FILE *fp, json_t *list, int flags)
{
	struct fwrow	 r;
	const char	*cell[NCOLS];
	int		 width[NCOLS], c, w;
	size_t		 i;
	json_t		*f;

	for (c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(fwtable_heads[c]);
	json_array_foreach(list, i, f) {
		fwtable_row(f, &r);
		for (c = 0; c < NCOLS; c++)
			if ((w = (int)strlen(r.c[c])) > width[c])
				width[c] = w;
	}
	fwtable_line(fp, fwtable_heads, width, flags);
	json_array_foreach(list, i, f) {
		fwtable_row(f, &r);
		fwtable_cells(&r, cell);
		fwtable_line(fp, cell, width, flags);
	}
}
