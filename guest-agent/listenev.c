/*
 * The "listen" trigger: the kernel tells us when a TCP socket enters or
 * leaves LISTEN, anywhere in the VM, so a new bind is scanned for within
 * a millisecond or so and nothing else costs a wakeup.
 *
 * A BPF program of a dozen instructions, written out below, is attached
 * by name to the inet_sock_set_state tracepoint (a raw tracepoint: no
 * tracefs needed).  It looks at the old and new states only and, for
 * LISTEN, puts 8 bytes in a BPF ring buffer, which makes the ring
 * buffer's descriptor readable.  We never read the records: a wakeup
 * means "scan", so we empty the ring buffer by moving its consumer
 * position up to the producer's, which also re-arms the wakeup.
 *
 * The program follows the socket to its network namespace and stays
 * quiet for other namespaces (offsets from the kernel's BTF, btf.c).
 * Needs CAP_BPF and CAP_PERFMON (root) and Linux 5.8 or later; when the
 * kernel says no, scan.c tries the next trigger.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"

#define RINGBUF_SIZE	4096	/* 256 events before any is dropped */

struct netns_filter {
	uint32_t		 off_net;	/* sk->__sk_common.skc_net */
	uint32_t		 off_inum;	/* net->ns.inum */
	uint32_t		 inum;		/* ours */
};

static struct {
	int			 map, prog, link;
	volatile uint64_t	*consumer;	/* ours to move */
	volatile uint64_t	*producer;	/* the kernel's */
	long			 page;
	struct event		*ev;
} lv = { -1, -1, -1, NULL, NULL, 0, NULL };

static int
sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

static struct bpf_insn
insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn	i;

	memset(&i, 0, sizeof i);
	i.code = code;
	i.dst_reg = dst;
	i.src_reg = src;
	i.off = off;
	i.imm = imm;
	return i;
}

/*
 * The program.  A raw tracepoint's context is its arguments as u64s:
 * inet_sock_set_state(sk, oldstate, newstate).  With the offsets of
 * sk->__sk_common.skc_net and net->ns.inum (from BTF) it also skips
 * sockets of other network namespaces (a container's, another VM
 * simulated on the same kernel), which we do not forward anyway.
 */
struct prog {
	struct bpf_insn	i[32];
	int		n;
};

static void
emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
    int32_t imm)
{
	if (p->n == (int)(sizeof p->i / sizeof p->i[0]))
		fatalx("listen trigger: program too long");
	p->i[p->n++] = insn(code, dst, src, off, imm);
}

/* r3 = the u64 at r3 + off, through the fp-8 stack slot; or out. */
static void
emit_read(struct prog *p, int32_t off, int size, int16_t *fixup)
{
	emit(p, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, off);
	emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0);
	emit(p, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8);
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, size);
	emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_read_kernel);
	fixup[0] = (int16_t)p->n;	/* if r0 != 0 goto out */
	emit(p, BPF_JMP | BPF_JNE | BPF_K, 0, 0, 0, 0);
	emit(p, BPF_LDX | BPF_MEM | (size == 8 ? BPF_DW : BPF_W), 3, 10, -8,
	    0);
}

static int
listenev_load(const struct netns_filter *nf)
{
	struct prog	p = { .n = 0 };
	union bpf_attr	a;
	char		log[8192] = "";
	int16_t		out[4];
	int		nout = 0, k, fd;

	emit(&p, BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);	/* r6 = ctx */
	emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 2, 6, 8, 0);	/* oldstate */
	emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 16, 0);	/* newstate */
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1, TCP_LISTEN);
	out[nout++] = (int16_t)p.n;		/* neither is LISTEN: out */
	emit(&p, BPF_JMP | BPF_JNE | BPF_K, 3, 0, 0, TCP_LISTEN);
	if (nf != NULL) {
		emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 0, 0);	/* sk */
		emit_read(&p, (int32_t)nf->off_net, 8, &out[nout++]);
		emit_read(&p, (int32_t)nf->off_inum, 4, &out[nout++]);
		out[nout++] = (int16_t)p.n;	/* another namespace: out */
		emit(&p, BPF_JMP32 | BPF_JNE | BPF_K, 3, 0, 0,
		    (int32_t)nf->inum);
	}
	emit(&p, BPF_STX | BPF_MEM | BPF_DW, 10, 3, -8, 0);	/* fp[-8] */
	emit(&p, BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, lv.map);
	emit(&p, 0, 0, 0, 0, 0);				/* map, cont. */
	emit(&p, BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);	/* r2 = fp */
	emit(&p, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
	emit(&p, BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 8);	/* size */
	emit(&p, BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);	/* flags */
	emit(&p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output);
	for (k = 0; k < nout; k++)		/* out: */
		p.i[out[k]].off = (int16_t)(p.n - out[k] - 1);
	emit(&p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);	/* return 0 */
	emit(&p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	a.insns = (uint64_t)(uintptr_t)p.i;
	a.insn_cnt = (uint32_t)p.n;
	/* probe_read_kernel wants a GPL-compatible program. */
	a.license = (uint64_t)(uintptr_t)"Dual BSD/GPL";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof log;
	a.log_level = 1;
	if ((fd = sys_bpf(BPF_PROG_LOAD, &a)) == -1 && log[0] != '\0')
		log_debug("listen trigger: the verifier says: %s", log);
	return fd;
}

/*
 * Where a socket's network namespace inode number is, and ours; -1 when
 * the kernel has no BTF to tell (then every namespace's events come).
 */
static int
listenev_netns(struct netns_filter *nf)
{
	struct btf_query	q[] = {
		{ "sock_common", "skc_net", 0, 0 },
		{ "net", "ns", 0, 0 },
		{ "ns_common", "inum", 0, 0 },
	};
	struct stat		st;

	if (stat("/proc/self/ns/net", &st) == -1 ||
	    btf_offsets(q, sizeof q / sizeof q[0]) == -1)
		return -1;
	/* struct sock starts with its sock_common; possible_net_t with net. */
	nf->off_net = q[0].off;
	nf->off_inum = q[1].off + q[2].off;
	nf->inum = (uint32_t)st.st_ino;
	return 0;
}

static void
listenev_read_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	__atomic_store_n(lv.consumer, __atomic_load_n(lv.producer,
	    __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	scan_kick();
}

static int
listenev_fail(const char *what)
{
	log_debug("listen trigger: %s: %s", what, strerror(errno));
	listenev_stop();
	return -1;
}

int
listenev_start(void)
{
	struct netns_filter	nf;
	union bpf_attr		a;
	void			*p;

	lv.page = sysconf(_SC_PAGESIZE);
	memset(&a, 0, sizeof a);
	a.map_type = BPF_MAP_TYPE_RINGBUF;
	a.max_entries = RINGBUF_SIZE > lv.page ? RINGBUF_SIZE : lv.page;
	if ((lv.map = sys_bpf(BPF_MAP_CREATE, &a)) == -1)
		return listenev_fail("BPF ring buffer");
	if ((p = mmap(NULL, lv.page, PROT_READ | PROT_WRITE, MAP_SHARED,
	    lv.map, 0)) == MAP_FAILED)
		return listenev_fail("mmap of the consumer position");
	lv.consumer = p;
	if ((p = mmap(NULL, lv.page, PROT_READ, MAP_SHARED, lv.map,
	    lv.page)) == MAP_FAILED)
		return listenev_fail("mmap of the producer position");
	lv.producer = p;
	if (listenev_netns(&nf) == 0)
		lv.prog = listenev_load(&nf);
	else
		log_debug("listen trigger: no BTF: events from every network "
		    "namespace");
	if (lv.prog == -1 && (lv.prog = listenev_load(NULL)) == -1)
		return listenev_fail("BPF program");
	memset(&a, 0, sizeof a);
	a.raw_tracepoint.name = (uint64_t)(uintptr_t)"inet_sock_set_state";
	a.raw_tracepoint.prog_fd = lv.prog;
	if ((lv.link = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &a)) == -1)
		return listenev_fail("attaching to inet_sock_set_state");
	lv.ev = event_new(guest->base, lv.map, EV_READ | EV_PERSIST,
	    listenev_read_cb, NULL);
	if (lv.ev == NULL)
		fatalx("event_new");
	event_add(lv.ev, NULL);
	return 0;
}

void
listenev_stop(void)
{
	if (lv.ev != NULL)
		event_free(lv.ev);
	if (lv.producer != NULL)
		munmap((void *)lv.producer, lv.page);
	if (lv.consumer != NULL)
		munmap((void *)lv.consumer, lv.page);
	if (lv.link != -1)
		close(lv.link);
	if (lv.prog != -1)
		close(lv.prog);
	if (lv.map != -1)
		close(lv.map);
	lv.ev = NULL;
	lv.producer = lv.consumer = NULL;
	lv.link = lv.prog = lv.map = -1;
}
