/*
 * Offsets of kernel struct members, from the running kernel's own type
 * information (BTF, /sys/kernel/btf/vmlinux), so that listenev.c's and
 * unixev.c's BPF programs can follow a socket to its network namespace
 * on any kernel build; and the id of the function unixev.c's program is
 * attached to.  The file is read once, at start-up (btf_release() frees
 * it), and parsed with a bounds check before every read: a kernel file,
 * but still input.
 */
#include <linux/btf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "xmalloc.h"

#define BTF_PATH	"/sys/kernel/btf/vmlinux"
#define BTF_MAX		(64 * 1024 * 1024)

struct btf_data {
	uint8_t		*p;
	size_t		 len;
	const uint8_t	*types, *strs;
	uint32_t	 types_len, strs_len;
};

static int
btf_read(struct btf_data *b)
{
	ssize_t	n;
	size_t	cap = 8 * 1024 * 1024;
	int	fd;

	if ((fd = open(BTF_PATH, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	b->p = xmalloc(cap);
	b->len = 0;
	/* sysfs gives no size in advance: read until EOF. */
	while ((n = read(fd, b->p + b->len, cap - b->len)) > 0) {
		b->len += (size_t)n;
		if (b->len == cap) {
			if (cap >= BTF_MAX)
				break;
			cap *= 2;
			b->p = xreallocarray(b->p, cap, 1);
		}
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static int
btf_sections(struct btf_data *b)
{
	struct btf_header	h;

	if (b->len < sizeof h)
		return -1;
	memcpy(&h, b->p, sizeof h);
	if (h.magic != BTF_MAGIC || h.hdr_len < sizeof h ||
	    h.hdr_len > b->len ||
	    h.type_off > b->len - h.hdr_len ||
	    h.type_len > b->len - h.hdr_len - h.type_off ||
	    h.str_off > b->len - h.hdr_len ||
	    h.str_len > b->len - h.hdr_len - h.str_off)
		return -1;
	b->types = b->p + h.hdr_len + h.type_off;
	b->types_len = h.type_len;
	b->strs = b->p + h.hdr_len + h.str_off;
	b->strs_len = h.str_len;
	return 0;
}

/* The string at off, if it is one and ends in the string section. */
static const char *
btf_str(const struct btf_data *b, uint32_t off)
{
	if (off >= b->strs_len || memchr(b->strs + off, '\0',
	    b->strs_len - off) == NULL)
		return NULL;
	return (const char *)b->strs + off;
}

/* The bytes after a type's struct btf_type, by its kind. */
static size_t
btf_extra(const struct btf_type *t)
{
	uint32_t	vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_ENUM64:
		return vlen * 12;
	default:
		return 0;
	}
}

/* The queries for a function of this name (mname NULL): its type id. */
static void
btf_match_func(const char *fname, uint32_t id, struct btf_query *q,
    size_t nq)
{
	size_t	k;

	for (k = 0; k < nq; k++)
		if (!q[k].found && q[k].mname == NULL &&
		    strcmp(q[k].sname, fname) == 0) {
			q[k].off = id;
			q[k].found = 1;
		}
}

/* Looks for the queries' members in one struct's member list. */
static void
btf_match(const struct btf_data *b, const char *sname, const uint8_t *m,
    uint32_t vlen, int kflag, struct btf_query *q, size_t nq)
{
	struct btf_member	 mb;
	const char		*mname;
	uint32_t		 i, bits;
	size_t			 k;

	for (k = 0; k < nq; k++) {
		if (q[k].found || q[k].mname == NULL ||
		    strcmp(q[k].sname, sname) != 0)
			continue;
		for (i = 0; i < vlen; i++) {
			memcpy(&mb, m + i * sizeof mb, sizeof mb);
			if ((mname = btf_str(b, mb.name_off)) == NULL ||
			    strcmp(mname, q[k].mname) != 0)
				continue;
			bits = kflag ? BTF_MEMBER_BIT_OFFSET(mb.offset) :
			    mb.offset;
			if (bits % 8 == 0) {
				q[k].off = bits / 8;
				q[k].found = 1;
			}
			break;
		}
	}
}

/*
 * The kernel's types, read on first use and kept until btf_release():
 * the triggers ask several questions at start-up, and each read of the
 * file (megabytes) costs tens of milliseconds, far more under valgrind.
 */
static struct btf_data	cache;
static int		cached;		/* 1: read, -1: cannot be */

static const struct btf_data *
btf_get(void)
{
	if (cached == 0) {
		cached = btf_read(&cache) == 0 && btf_sections(&cache) == 0 ?
		    1 : -1;
		if (cached == -1) {
			free(cache.p);
			memset(&cache, 0, sizeof cache);
		}
	}
	return cached == 1 ? &cache : NULL;
}

/* Start-up is over: the memory goes. */
void
btf_release(void)
{
	free(cache.p);
	memset(&cache, 0, sizeof cache);
	cached = 0;
}

/*
 * Answers each query: the byte offset of a struct member, or the type id
 * of a function (mname NULL: the attach point of a tracing program,
 * unixev.c; ids count the types from 1, in the order they are listed).
 * One walk answers them all.  Returns 0 when all were found, -1
 * otherwise (no BTF here, a kernel whose structs differ, or that inlined
 * the function); each query's found says which.
 */
int
btf_lookup(struct btf_query *q, size_t nq)
{
	const struct btf_data	*b;
	struct btf_type		 t;
	const char		*name;
	size_t			 off = 0, extra, k;
	uint32_t		 id = 0;
	int			 r = -1;

	if ((b = btf_get()) == NULL)
		goto out;
	while (off + sizeof t <= b->types_len) {
		memcpy(&t, b->types + off, sizeof t);
		off += sizeof t;
		id++;
		if ((extra = btf_extra(&t)) > b->types_len - off)
			goto out;
		name = btf_str(b, t.name_off);
		if (BTF_INFO_KIND(t.info) == BTF_KIND_STRUCT && name != NULL)
			btf_match(b, name, b->types + off,
			    BTF_INFO_VLEN(t.info), BTF_INFO_KFLAG(t.info), q,
			    nq);
		else if (BTF_INFO_KIND(t.info) == BTF_KIND_FUNC && name != NULL)
			btf_match_func(name, id, q, nq);
		off += extra;
	}
	r = 0;
	for (k = 0; k < nq; k++)
		if (!q[k].found)
			r = -1;
out:
	if (r == -1)
		errno = ENOENT;
	return r;
}
