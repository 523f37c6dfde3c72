/*
 * libFuzzer target for the reading of nf_tables rules
 * (guest-agent/natrule.c) and their walk (natwalk.c).
 *
 * The input is a program that builds rules with libnftnl's own API,
 * expression by expression: each byte picks an expression (meta,
 * payload, cmp, range, lookup, immediate data or verdict, nat, an xt
 * target, counter) and the bytes after it give its registers, keys,
 * operators and data, as a hostile or buggy rule set could hold them.
 * A zero byte ends a rule.  The rules are walked as a base chain and the
 * chain each jumps to, and every port published must pass nat_check(),
 * as privsep.c requires.
 *
 * libnftnl's netlink parser is not fuzzed here: porthole hands it only
 * what the kernel sends, in the privileged helper (and libnftnl 1.2.4
 * dereferences a NULL name on an expression without one).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "guest.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct guest	*guest;

#define RULES_MAX	8

struct in {
	const uint8_t	*p;
	size_t		 n;
};

static uint8_t
u8(struct in *in)
{
	uint8_t	v = 0;

	if (in->n > 0) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

/* Up to 16 bytes of data: a length byte, then that many. */
static uint32_t
bytes(struct in *in, uint8_t *v)
{
	uint32_t	len = u8(in) % 17, i;

	for (i = 0; i < len; i++)
		v[i] = u8(in);
	return len;
}

static void
one_expr(struct nftnl_rule *r, uint8_t op, struct in *in)
{
	static const char *const names[] = { "meta", "payload", "cmp",
	    "range", "lookup", "immediate", "immediate", "nat", "target",
	    "counter" };
	struct nftnl_expr	*e;
	uint8_t			 d[16];
	uint32_t		 len;
	void			*info;
	int			 v;

	op %= sizeof names / sizeof names[0];
	if ((e = nftnl_expr_alloc(names[op])) == NULL)
		abort();
	switch (op) {
	case 0:
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, u8(in) % 32);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, u8(in));
		break;
	case 1:
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, u8(in) % 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, u8(in) % 8);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, u8(in) % 8);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, u8(in));
		break;
	case 2:
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, u8(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, u8(in) % 8);
		len = bytes(in, d);
		if (len > 0)
			nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d, len);
		break;
	case 3:
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, u8(in));
		break;
	case 4:
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, u8(in));
		break;
	case 5:
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, u8(in));
		len = bytes(in, d);
		if (len > 0)
			nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, d, len);
		break;
	case 6:
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		v = -(int)(u8(in) % 6);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
		/* libnftnl frees a chain name with a jump or goto only */
		if ((v == NFT_JUMP || v == NFT_GOTO) && (u8(in) & 1))
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN,
			    u8(in) & 1 ? "a" : "b");
		break;
	case 7:
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, u8(in) % 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, u8(in) % 12);
		if (u8(in) & 1)
			nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN,
			    u8(in));
		if (u8(in) & 1)
			nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN,
			    u8(in));
		break;
	case 8:
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME,
		    u8(in) & 1 ? "DNAT" : "SNAT");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, u8(in) % 4);
		len = u8(in) % 72;
		info = xcalloc(1, len + 1);	/* libnftnl frees it */
		memcpy(info, in->p, len < in->n ? len : in->n);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, len);
		break;
	default:
		break;
	}
	nftnl_rule_add_expr(r, e);
}

/* Chains "a" (the base one) and "b", the rules dealt between them. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in		 in = { data, size };
	struct natchain		 c[2];
	struct natbind		 out[8];
	struct nftnl_rule	*r;
	uint8_t			 family, op;
	size_t			 i, n, k;

	family = u8(&in) % 12;
	memset(c, 0, sizeof c);
	c[0].name = (char *)"a";
	c[1].name = (char *)"b";
	c[0].table = c[1].table = (char *)"t";
	c[0].family = c[1].family = family;
	c[0].base = 1;
	for (k = 0; k < 2; k++)
		c[k].rules = xcalloc(RULES_MAX, sizeof *c[k].rules);
	for (i = 0; i < RULES_MAX && in.n > 0; i++) {
		if ((r = nftnl_rule_alloc()) == NULL)
			abort();
		while (in.n > 0 && (op = u8(&in)) != 0)
			one_expr(r, op - 1, &in);
		k = i % 2;
		natrule_parse(r, family, &c[k].rules[c[k].nrules++]);
		nftnl_rule_free(r);
	}
	n = natwalk(c, 2, out, sizeof out / sizeof out[0]);
	for (i = 0; i < n; i++)
		if (nat_check(&out[i]) != NULL)
			abort();
	for (k = 0; k < 2; k++) {
		for (i = 0; i < c[k].nrules; i++)
			natrule_clear(&c[k].rules[i]);
		free(c[k].rules);
	}
	return 0;
}
