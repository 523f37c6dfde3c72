/*
 * The "listen" trigger: the kernel tells us when a TCP socket enters
 * LISTEN or leaves it for CLOSE, anywhere in the VM, so a new bind is
 * scanned for within a millisecond or so and nothing else costs a wakeup.
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
 * A connection accepted is no wakeup: see listenev_load().
 * Needs CAP_BPF and CAP_PERFMON (root) and Linux 5.8 or later; when the
 * kernel says no, scan.c tries the next trigger.  A Unix socket's
 * listen() is unixev.c's, into the same ring buffer.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "bpfprog.h"
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

/*
 * The program.  A raw tracepoint's context is its arguments as u64s:
 * inet_sock_set_state(sk, oldstate, newstate).  With the offsets of
 * sk->__sk_common.skc_net and net->ns.inum (from BTF) it also skips
 * sockets of other network namespaces (a container's, another VM
 * simulated on the same kernel), which we do not forward anyway.
 */
static int
listenev_load(const struct netns_filter *nf)
{
	struct bpfprog	p = { .n = 0 };
	union bpf_attr	a;

	bpfprog_emit(&p, BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0); /* ctx */
	bpfprog_emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 2, 6, 8, 0); /* old */
	bpfprog_emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 16, 0); /* new */
	/* into LISTEN: on */
	bpfprog_emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 2, TCP_LISTEN);
	/*
	 * Out of LISTEN only into CLOSE: every connection a listener takes
	 * starts as its clone, still LISTEN, set to SYN_RECV, which must
	 * not wake a scan (a busy server would scan at the storm cap).
	 */
	bpfprog_jump_out(&p, BPF_JMP | BPF_JNE | BPF_K, 2, TCP_LISTEN);
	bpfprog_jump_out(&p, BPF_JMP | BPF_JNE | BPF_K, 3, TCP_CLOSE);
	if (nf != NULL) {
		/* r3 = sk */
		bpfprog_emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 0, 0);
		bpfprog_read(&p, (int32_t)nf->off_net, 8);
		bpfprog_read(&p, (int32_t)nf->off_inum, 4);
		/* another namespace: out */
		bpfprog_jump_out(&p, BPF_JMP32 | BPF_JNE | BPF_K, 3,
		    (int32_t)nf->inum);
	}
	bpfprog_ringbuf_out(&p, lv.map);
	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	return bpfprog_load(&p, &a, "listen trigger");
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
	    btf_lookup(q, sizeof q / sizeof q[0]) == -1)
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
	btf_release();
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
	if ((lv.map = bpfprog_sys(BPF_MAP_CREATE, &a)) == -1)
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
	if ((lv.link = bpfprog_sys(BPF_RAW_TRACEPOINT_OPEN, &a)) == -1)
		return listenev_fail("attaching to inet_sock_set_state");
	/* A failure is said there, and the TCP trigger goes on without it. */
	if (usock_enabled())
		(void)unixev_start(lv.map);
	btf_release();		/* both programs are loaded */
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
	unixev_stop();
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
