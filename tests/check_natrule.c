/*
 * Unit tests for guest-agent/natrule.c and natwalk.c: nf_tables rules
 * built with libnftnl, expression by expression, as nft and
 * iptables-nft write them (`nft --debug=netlink list ruleset` shows the
 * same), read into what they do to a port; then rule sets walked, as
 * Docker, CNI portmap and kube-proxy lay them out, into the ports they
 * publish.  check forks for every test.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "guest.h"
#include "log.h"
#include "xmalloc.h"

struct guest	*guest;

static struct nftnl_rule *
rule_new(void)
{
	struct nftnl_rule	*r = nftnl_rule_alloc();

	ck_assert_ptr_nonnull(r);
	return r;
}

static struct nftnl_expr *
expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr	*e = nftnl_expr_alloc(name);

	ck_assert_ptr_nonnull(e);
	nftnl_rule_add_expr(r, e);
	return e;
}

/* meta load KEY => reg */
static void
meta(struct nftnl_rule *r, uint32_t key, uint32_t reg)
{
	struct nftnl_expr	*e = expr(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
}

/* payload load LEN @ BASE + OFF => reg */
static void
payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
    uint32_t reg)
{
	struct nftnl_expr	*e = expr(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
}

static void
cmp(struct nftnl_rule *r, uint32_t op, uint32_t reg, const void *v,
    uint32_t len)
{
	struct nftnl_expr	*e = expr(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, v, len);
}

/* meta l4proto PROTO (iptables' -p, nft's dependency) */
static void
l4proto(struct nftnl_rule *r, uint8_t proto)
{
	meta(r, NFT_META_L4PROTO, NFT_REG_1);
	cmp(r, NFT_CMP_EQ, NFT_REG_1, &proto, 1);
}

/* th dport PORT, with op */
static void
dport_op(struct nftnl_rule *r, uint32_t op, uint16_t port)
{
	uint16_t	be = htons(port);

	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	cmp(r, op, NFT_REG_1, &be, 2);
}

static void
dport(struct nftnl_rule *r, uint16_t port)
{
	dport_op(r, NFT_CMP_EQ, port);
}

/* iifname != "docker0", as Docker's DOCKER chain has it */
static void
not_iif(struct nftnl_rule *r, const char *name)
{
	char	v[16] = { 0 };

	strlcpy(v, name, sizeof v);
	meta(r, NFT_META_IIFNAME, NFT_REG_1);
	cmp(r, NFT_CMP_NEQ, NFT_REG_1, v, (uint32_t)strlen(name) + 1);
}

static void
verdict(struct nftnl_rule *r, int v, const char *chain)
{
	struct nftnl_expr	*e = expr(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	if (chain != NULL)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void
immediate(struct nftnl_rule *r, uint32_t reg, const void *v, uint32_t len)
{
	struct nftnl_expr	*e = expr(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, v, len);
}

/* nft's "dnat to ADDR[:PORT]", family ip or ip6 */
static void
nft_dnat(struct nftnl_rule *r, const char *addr, uint16_t port)
{
	struct ph_addr		 a;
	struct nftnl_expr	*e;
	uint16_t		 be = htons(port);
	int			 v4;

	ck_assert_int_eq(addr_parse(addr, &a), 0);
	v4 = a.family == AF_INET;
	immediate(r, NFT_REG_1, &a.u, v4 ? 4 : 16);
	if (port != 0)
		immediate(r, NFT_REG_2, &be, 2);
	e = expr(r, "nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY,
	    v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
	if (port != 0) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MAX, NFT_REG_2);
	}
}

/* An xt target's info: libnftnl takes it, and frees it with the rule. */
static void
tg_info(struct nftnl_expr *e, const void *v, size_t len)
{
	void	*p = xmalloc(len);

	memcpy(p, v, len);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, p, (uint32_t)len);
}

/* iptables-nft's "-j DNAT --to-destination ADDR[:PORT]", revision 2 */
static void
xt_dnat(struct nftnl_rule *r, const char *addr, uint16_t port)
{
	struct nf_nat_range2	 range;
	struct nftnl_expr	*e;
	struct ph_addr		 a;

	ck_assert_int_eq(addr_parse(addr, &a), 0);
	memset(&range, 0, sizeof range);
	range.flags = NF_NAT_RANGE_MAP_IPS;
	memcpy(&range.min_addr, &a.u, a.family == AF_INET ? 4 : 16);
	range.max_addr = range.min_addr;
	if (port != 0) {
		range.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
		range.min_proto.all = range.max_proto.all = htons(port);
	}
	e = expr(r, "target");
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "DNAT");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 2);
	tg_info(e, &range, sizeof range);
}

static void
counter(struct nftnl_rule *r)
{
	expr(r, "counter");
}

/* Reads r (then frees it), in a table of family. */
static struct natrule
parse(struct nftnl_rule *r, uint8_t family)
{
	struct natrule	nr;

	natrule_parse(r, family, &nr);
	nftnl_rule_free(r);
	return nr;
}

static void
assert_dnat(struct natrule *nr, uint8_t proto, uint16_t port,
    const char *to, uint16_t to_port)
{
	struct ph_addr	a;

	ck_assert_int_eq(nr->verdict, NATRULE_DNAT);
	ck_assert_uint_eq(nr->proto, proto);
	ck_assert_uint_eq(nr->dport, port);
	ck_assert_int_eq(addr_parse(to, &a), 0);
	ck_assert_msg(addr_equal(&nr->to, &a), "destination not %s", to);
	ck_assert_uint_eq(nr->to_port, to_port);
	natrule_clear(nr);
}

static void
setup(void)
{
	log_init("check_natrule", 1, 0);
}

/* ip t pre: tcp dport 9090 dnat to 10.1.1.1:81 */
START_TEST(test_nft_dnat)
{
	struct nftnl_rule	*r = rule_new();
	struct natrule		 nr;

	l4proto(r, IPPROTO_TCP);
	dport(r, 9090);
	nft_dnat(r, "10.1.1.1", 81);
	nr = parse(r, NFPROTO_IPV4);
	assert_dnat(&nr, IPPROTO_TCP, 9090, "10.1.1.1", 81);
}
END_TEST

/* inet t6 out: ip6 daddr ::1 udp dport 53 dnat ip6 to [fd00::1] */
START_TEST(test_nft_dnat6_no_port)
{
	struct nftnl_rule	*r = rule_new();
	struct natrule		 nr;
	uint8_t			 nfproto = NFPROTO_IPV6, lo[16] = { 0 };

	meta(r, NFT_META_NFPROTO, NFT_REG_1);
	cmp(r, NFT_CMP_EQ, NFT_REG_1, &nfproto, 1);
	lo[15] = 1;
	payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1);
	cmp(r, NFT_CMP_EQ, NFT_REG_1, lo, 16);
	l4proto(r, IPPROTO_UDP);
	dport(r, 53);
	nft_dnat(r, "fd00::1", 0);
	nr = parse(r, NFPROTO_INET);
	assert_dnat(&nr, IPPROTO_UDP, 53, "fd00::1", 0);
}
END_TEST

/* Docker's: iifname != "docker0" tcp dport 8080 counter DNAT (xt) */
START_TEST(test_xt_dnat)
{
	struct nftnl_rule	*r = rule_new();
	struct natrule		 nr;

	not_iif(r, "docker0");
	l4proto(r, IPPROTO_TCP);
	dport(r, 8080);
	counter(r);
	xt_dnat(r, "172.17.0.2", 80);
	nr = parse(r, NFPROTO_IPV4);
	assert_dnat(&nr, IPPROTO_TCP, 8080, "172.17.0.2", 80);
}
END_TEST

/* kube-proxy's KUBE-SEP-*: -p tcp -j DNAT, the port matched before. */
START_TEST(test_xt_dnat_no_dport)
{
	struct nftnl_rule	*r = rule_new();
	struct natrule		 nr;

	l4proto(r, IPPROTO_TCP);
	xt_dnat(r, "10.42.0.5", 80);
	nr = parse(r, NFPROTO_IPV4);
	assert_dnat(&nr, IPPROTO_TCP, 0, "10.42.0.5", 80);
}
END_TEST

/* Revisions 0 and 1 of the xt target, as older iptables write them. */
START_TEST(test_xt_dnat_old_revisions)
{
	struct nf_nat_ipv4_multi_range_compat	 r0;
	struct nf_nat_range			 r1;
	struct nftnl_rule			*r;
	struct nftnl_expr			*e;
	struct natrule				 nr;

	memset(&r0, 0, sizeof r0);
	r0.rangesize = 1;
	r0.range[0].flags = NF_NAT_RANGE_MAP_IPS |
	    NF_NAT_RANGE_PROTO_SPECIFIED;
	r0.range[0].min_ip = inet_addr("10.0.0.7");
	r0.range[0].min.all = htons(8000);
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 80);
	e = expr(r, "target");
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "DNAT");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 0);
	tg_info(e, &r0, sizeof r0);
	nr = parse(r, NFPROTO_IPV4);
	assert_dnat(&nr, IPPROTO_TCP, 80, "10.0.0.7", 8000);

	memset(&r1, 0, sizeof r1);
	r1.flags = NF_NAT_RANGE_MAP_IPS;
	inet_pton(AF_INET6, "fd00::9", &r1.min_addr.in6);
	r = rule_new();
	l4proto(r, IPPROTO_UDP);
	dport(r, 5353);
	e = expr(r, "target");
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "DNAT");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 1);
	tg_info(e, &r1, sizeof r1);
	nr = parse(r, NFPROTO_IPV6);
	assert_dnat(&nr, IPPROTO_UDP, 5353, "fd00::9", 0);
}
END_TEST

/* Docker's PREROUTING: fib daddr type local counter jump DOCKER */
START_TEST(test_jump)
{
	struct nftnl_rule	*r = rule_new();
	struct nftnl_expr	*e;
	struct natrule		 nr;

	e = expr(r, "match");
	nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, "addrtype");
	counter(r);
	verdict(r, NFT_JUMP, "DOCKER");
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_JUMP);
	ck_assert_str_eq(nr.chain, "DOCKER");
	ck_assert_uint_eq(nr.proto, 0);
	ck_assert_uint_eq(nr.dport, 0);
	natrule_clear(&nr);

	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 30080);
	verdict(r, NFT_GOTO, "KUBE-EXT-X");
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_GOTO);
	ck_assert_str_eq(nr.chain, "KUBE-EXT-X");
	ck_assert_uint_eq(nr.dport, 30080);
	natrule_clear(&nr);
}
END_TEST

/* What publishes no port, each read as such. */
START_TEST(test_not_published)
{
	struct nftnl_rule	*r;
	struct nftnl_expr	*e;
	struct natrule		 nr;
	uint8_t			 p;

	/* tcp dport != 22 dnat: a negation is not read */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport_op(r, NFT_CMP_NEQ, 22);
	nft_dnat(r, "10.0.0.1", 22);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* tcp dport 8000-8010: a range is not read */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	e = expr(r, "range");
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nft_dnat(r, "10.0.0.1", 80);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* tcp dport { 80, 443 }: a set is not read */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	e = expr(r, "lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "__set0");
	nft_dnat(r, "10.0.0.1", 80);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* tcp and udp at once: no packet */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	l4proto(r, IPPROTO_UDP);
	dport(r, 53);
	nft_dnat(r, "10.0.0.1", 53);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* sctp: neither TCP nor UDP */
	r = rule_new();
	l4proto(r, IPPROTO_SCTP);
	dport(r, 9);
	nft_dnat(r, "10.0.0.1", 9);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* a source port, not the destination port */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG_1);
	p = 0;
	cmp(r, NFT_CMP_EQ, NFT_REG_1, "\x00\x50", 2);
	nft_dnat(r, "10.0.0.1", 80);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_DNAT);
	ck_assert_uint_eq(nr.dport, p);
	natrule_clear(&nr);

	/* snat, masquerade: not a DNAT */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 80);
	immediate(r, NFT_REG_1, "\x0a\x00\x00\x01", 4);
	e = expr(r, "nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* a DNAT whose address register holds no immediate */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 80);
	e = expr(r, "nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_3);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* a register number out of range */
	r = rule_new();
	meta(r, NFT_META_L4PROTO, 200);
	p = IPPROTO_TCP;
	cmp(r, NFT_CMP_EQ, 200, &p, 1);
	nft_dnat(r, "10.0.0.1", 80);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_DNAT);
	ck_assert_uint_eq(nr.proto, 0);
	natrule_clear(&nr);

	/* an xt DNAT too short for its revision */
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 80);
	e = expr(r, "target");
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "DNAT");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 2);
	tg_info(e, "\x01\x00\x00\x00", 4);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);

	/* accept: nothing */
	r = rule_new();
	verdict(r, NF_ACCEPT, NULL);
	nr = parse(r, NFPROTO_IPV4);
	ck_assert_int_eq(nr.verdict, NATRULE_NONE);
}
END_TEST

/* A rule set, chain by chain, for the walk. */
struct set {
	struct natchain	*c;
	size_t		 n;
};

static struct natchain *
chain(struct set *s, uint8_t family, const char *table, const char *name,
    int base)
{
	struct natchain	*c;

	s->c = xreallocarray(s->c, s->n + 1, sizeof *s->c);
	c = &s->c[s->n++];
	memset(c, 0, sizeof *c);
	c->family = family;
	c->table = xstrdup(table);
	c->name = xstrdup(name);
	c->base = base;
	return c;
}

/* Appends to the chain (family, table, name) of s the rule r reads as. */
static void
add(struct set *s, const char *table, const char *name,
    struct nftnl_rule *r)
{
	struct natchain	*c = NULL;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->c[i].table, table) == 0 &&
		    strcmp(s->c[i].name, name) == 0)
			c = &s->c[i];
	ck_assert_ptr_nonnull(c);
	c->rules = xreallocarray(c->rules, c->nrules + 1, sizeof *c->rules);
	natrule_parse(r, c->family, &c->rules[c->nrules++]);
	nftnl_rule_free(r);
}

static struct nftnl_rule *
jump_to(const char *chain_name)
{
	struct nftnl_rule	*r = rule_new();

	verdict(r, NFT_JUMP, chain_name);
	return r;
}

static struct nftnl_rule *
port_dnat(uint8_t proto, uint16_t port, const char *to, uint16_t to_port,
    int xt)
{
	struct nftnl_rule	*r = rule_new();

	l4proto(r, proto);
	if (port != 0)
		dport(r, port);
	if (xt)
		xt_dnat(r, to, to_port);
	else
		nft_dnat(r, to, to_port);
	return r;
}

static void
assert_bind(const struct natbind *b, uint8_t proto, uint16_t port,
    const char *to, uint16_t to_port, const char *name)
{
	struct ph_addr	a;

	ck_assert_int_eq(addr_parse(to, &a), 0);
	ck_assert_uint_eq(b->proto, proto);
	ck_assert_uint_eq(b->port, port);
	ck_assert_msg(addr_equal(&b->to, &a), "port %u: not to %s", port, to);
	ck_assert_uint_eq(b->to_port, to_port);
	ck_assert_str_eq(b->name, name);
	ck_assert_ptr_null(nat_check(b));
}

/*
 * Docker (iptables-nft): PREROUTING and OUTPUT jump to DOCKER, which
 * returns for the bridge and DNATs each published port; a second
 * DNAT for the same port later is not what a packet meets.
 */
START_TEST(test_walk_docker)
{
	struct set	 s = { NULL, 0 };
	struct natbind	 out[8];
	struct nftnl_rule *r;
	size_t		 n;

	chain(&s, NFPROTO_IPV4, "nat", "PREROUTING", 1);
	chain(&s, NFPROTO_IPV4, "nat", "OUTPUT", 1);
	chain(&s, NFPROTO_IPV4, "nat", "POSTROUTING", 0);
	chain(&s, NFPROTO_IPV4, "nat", "DOCKER", 0);
	add(&s, "nat", "PREROUTING", jump_to("DOCKER"));
	add(&s, "nat", "OUTPUT", jump_to("DOCKER"));
	r = rule_new();
	not_iif(r, "docker0");
	verdict(r, NFT_RETURN, NULL);
	add(&s, "nat", "DOCKER", r);
	add(&s, "nat", "DOCKER", port_dnat(IPPROTO_TCP, 8080, "172.17.0.2",
	    80, 1));
	add(&s, "nat", "DOCKER", port_dnat(IPPROTO_UDP, 5353, "172.17.0.3",
	    53, 1));
	add(&s, "nat", "DOCKER", port_dnat(IPPROTO_TCP, 8080, "172.17.0.9",
	    80, 1));
	n = natwalk(s.c, s.n, out, 8);
	ck_assert_uint_eq(n, 2);
	assert_bind(&out[0], IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	assert_bind(&out[1], IPPROTO_UDP, 5353, "172.17.0.3", 53, "docker");
	natwalk_free(s.c, s.n);
}
END_TEST

/*
 * CNI portmap: CNI-HOSTPORT-DNAT -> CNI-DN-xxx, the port matched in the
 * second (the first's multiport match is not read).  kube-proxy: the
 * NodePort matched in KUBE-NODEPORTS, the DNAT three chains down.
 */
START_TEST(test_walk_cni_kube)
{
	struct set	 s = { NULL, 0 };
	struct natbind	 out[8];
	struct nftnl_rule *r;
	size_t		 n;

	chain(&s, NFPROTO_IPV4, "nat", "PREROUTING", 1);
	chain(&s, NFPROTO_IPV4, "nat", "CNI-HOSTPORT-DNAT", 0);
	chain(&s, NFPROTO_IPV4, "nat", "CNI-DN-abc", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-SERVICES", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-NODEPORTS", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-EXT-X", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-SVC-X", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-SEP-1", 0);
	chain(&s, NFPROTO_IPV4, "nat", "KUBE-SEP-2", 0);
	add(&s, "nat", "PREROUTING", jump_to("CNI-HOSTPORT-DNAT"));
	add(&s, "nat", "PREROUTING", jump_to("KUBE-SERVICES"));
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	verdict(r, NFT_JUMP, "CNI-DN-abc");
	add(&s, "nat", "CNI-HOSTPORT-DNAT", r);
	add(&s, "nat", "CNI-DN-abc", port_dnat(IPPROTO_TCP, 8081,
	    "10.88.0.2", 80, 1));
	add(&s, "nat", "KUBE-SERVICES", jump_to("KUBE-NODEPORTS"));
	r = rule_new();
	l4proto(r, IPPROTO_TCP);
	dport(r, 30080);
	verdict(r, NFT_JUMP, "KUBE-EXT-X");
	add(&s, "nat", "KUBE-NODEPORTS", r);
	add(&s, "nat", "KUBE-EXT-X", jump_to("KUBE-SVC-X"));
	add(&s, "nat", "KUBE-SVC-X", jump_to("KUBE-SEP-1"));
	add(&s, "nat", "KUBE-SVC-X", jump_to("KUBE-SEP-2"));
	add(&s, "nat", "KUBE-SEP-1", port_dnat(IPPROTO_TCP, 0, "10.42.0.5",
	    8080, 1));
	add(&s, "nat", "KUBE-SEP-2", port_dnat(IPPROTO_TCP, 0, "10.42.0.6",
	    8080, 1));
	n = natwalk(s.c, s.n, out, 8);
	ck_assert_uint_eq(n, 2);
	assert_bind(&out[0], IPPROTO_TCP, 8081, "10.88.0.2", 80,
	    "cni-portmap");
	assert_bind(&out[1], IPPROTO_TCP, 30080, "10.42.0.5", 8080,
	    "kube-proxy");
	natwalk_free(s.c, s.n);
}
END_TEST

/*
 * Native nft: named by table and chain; IPv6 apart from IPv4; a DNAT
 * without a port to its own; chains no base chain reaches, and base
 * chains not on prerouting/output (natdump.c says which are base), are
 * not walked.
 */
START_TEST(test_walk_nft)
{
	struct set	 s = { NULL, 0 };
	struct natbind	 out[8];
	size_t		 n;

	chain(&s, NFPROTO_INET, "t6", "out", 1);
	chain(&s, NFPROTO_IPV4, "t", "pre", 1);
	chain(&s, NFPROTO_IPV4, "t", "orphan", 0);
	add(&s, "t", "pre", port_dnat(IPPROTO_TCP, 9090, "10.1.1.1", 81, 0));
	add(&s, "t", "pre", port_dnat(IPPROTO_UDP, 9090, "10.1.1.1", 0, 0));
	add(&s, "t", "orphan", port_dnat(IPPROTO_TCP, 7070, "10.1.1.1", 1,
	    0));
	add(&s, "t6", "out", port_dnat(IPPROTO_TCP, 9090, "fd00::1", 82, 0));
	n = natwalk(s.c, s.n, out, 8);
	ck_assert_uint_eq(n, 3);
	/* chains walked in (family, table, name) order: inet (1), ip (2) */
	assert_bind(&out[0], IPPROTO_TCP, 9090, "fd00::1", 82, "nft:t6/out");
	assert_bind(&out[1], IPPROTO_TCP, 9090, "10.1.1.1", 81, "nft:t/pre");
	assert_bind(&out[2], IPPROTO_UDP, 9090, "10.1.1.1", 9090,
	    "nft:t/pre");
	natwalk_free(s.c, s.n);
}
END_TEST

/* A chain that jumps to itself, twice a rule: the walk ends. */
/* A VM with no nf_tables chains at all: the dump hands over NULL, 0. */
START_TEST(test_walk_none)
{
	struct natbind	 out[1];

	natwalk_sort(NULL, 0);
	ck_assert_ptr_null(natwalk_find(NULL, 0, NFPROTO_IPV4, "t", "pre"));
	ck_assert_uint_eq(natwalk(NULL, 0, out, 1), 0);
	natwalk_free(NULL, 0);
}
END_TEST

START_TEST(test_walk_loop)
{
	struct set	 s = { NULL, 0 };
	struct natbind	 out[8];
	size_t		 n;

	chain(&s, NFPROTO_IPV4, "t", "pre", 1);
	chain(&s, NFPROTO_IPV4, "t", "loop", 0);
	add(&s, "t", "pre", jump_to("loop"));
	add(&s, "t", "loop", jump_to("loop"));
	add(&s, "t", "loop", jump_to("loop"));
	add(&s, "t", "loop", jump_to("missing"));
	add(&s, "t", "loop", port_dnat(IPPROTO_TCP, 1234, "10.0.0.1", 0, 0));
	n = natwalk(s.c, s.n, out, 8);
	ck_assert_uint_eq(n, 1);
	assert_bind(&out[0], IPPROTO_TCP, 1234, "10.0.0.1", 1234,
	    "nft:t/loop");
	natwalk_free(s.c, s.n);
}
END_TEST

/* More published ports than room: max of them, no overrun. */
START_TEST(test_walk_max)
{
	struct set	 s = { NULL, 0 };
	struct natbind	 out[4];
	size_t		 n;
	uint16_t	 p;

	chain(&s, NFPROTO_IPV4, "t", "pre", 1);
	for (p = 1; p <= 10; p++)
		add(&s, "t", "pre", port_dnat(IPPROTO_TCP, p, "10.0.0.1", 0,
		    0));
	n = natwalk(s.c, s.n, out, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(out[3].port, 4);
	natwalk_free(s.c, s.n);
}
END_TEST

/* What privsep.c takes from the helper. */
START_TEST(test_check)
{
	struct natbind	b;

	memset(&b, 0, sizeof b);
	b.proto = IPPROTO_TCP;
	b.port = 80;
	b.to_port = 8080;
	ck_assert_int_eq(addr_parse("10.0.0.1", &b.to), 0);
	strlcpy(b.name, "docker", sizeof b.name);
	ck_assert_ptr_null(nat_check(&b));
	b.proto = IPPROTO_SCTP;
	ck_assert_ptr_nonnull(nat_check(&b));
	b.proto = IPPROTO_UDP;
	b.port = 0;
	ck_assert_ptr_nonnull(nat_check(&b));
	b.port = 80;
	b.to_port = 0;
	ck_assert_ptr_nonnull(nat_check(&b));
	b.to_port = 1;
	b.to.family = AF_UNIX;
	ck_assert_ptr_nonnull(nat_check(&b));
	b.to.family = AF_INET6;
	ck_assert_ptr_null(nat_check(&b));
	memset(b.name, 'x', sizeof b.name);
	ck_assert_ptr_nonnull(nat_check(&b));
	b.name[0] = '\0';
	ck_assert_ptr_nonnull(nat_check(&b));
}
END_TEST

START_TEST(test_engine)
{
	ck_assert_str_eq(natwalk_engine("DOCKER"), "docker");
	ck_assert_str_eq(natwalk_engine("CNI-HOSTPORT-DNAT"), "cni-portmap");
	ck_assert_str_eq(natwalk_engine("CNI-DN-1234"), "cni-portmap");
	ck_assert_str_eq(natwalk_engine("KUBE-NODEPORTS"), "kube-proxy");
	ck_assert_ptr_null(natwalk_engine("DOCKER-USER"));
	ck_assert_ptr_null(natwalk_engine("CNI-FORWARD"));
	ck_assert_ptr_null(natwalk_engine("PREROUTING"));
}
END_TEST

static Suite *
natrule_suite(void)
{
	Suite	*s = suite_create("natrule");
	TCase	*tc = tcase_create("rule");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_nft_dnat);
	tcase_add_test(tc, test_nft_dnat6_no_port);
	tcase_add_test(tc, test_xt_dnat);
	tcase_add_test(tc, test_xt_dnat_no_dport);
	tcase_add_test(tc, test_xt_dnat_old_revisions);
	tcase_add_test(tc, test_jump);
	tcase_add_test(tc, test_not_published);
	suite_add_tcase(s, tc);

	tc = tcase_create("walk");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_walk_docker);
	tcase_add_test(tc, test_walk_cni_kube);
	tcase_add_test(tc, test_walk_nft);
	tcase_add_test(tc, test_walk_none);
	tcase_add_test(tc, test_walk_loop);
	tcase_add_test(tc, test_walk_max);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_engine);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(natrule_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
