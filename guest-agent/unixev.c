/*
 * The "listen" trigger's Unix half: a Unix socket's listen() changes no
 * inet socket's state, so listenev.c's tracepoint never sees it, and a
 * new engine socket (docker.sock, -x) would wait for the slow poll.  A
 * second program writes into the same ring buffer, so that one
 * descriptor still wakes the scans.  Two ways, the first that loads:
 *
 *   fexit    on the kernel function unix_listen(), found by its BTF id
 *            (BPF_PROG_TYPE_TRACING).  Runs after the function returned,
 *            with its return value: the socket is in the listening table
 *            when the scan looks, a failed listen() wakes nothing, and
 *            only Unix sockets wake us.  Needs BTF and the BPF
 *            trampoline (Linux 5.5 on x86-64, 6.0 on arm64); a kernel
 *            that inlined unix_listen() has no attach point.
 *   syscall  on the syscalls:sys_exit_listen tracepoint, through a
 *            perf event (BPF_PROG_TYPE_TRACEPOINT).  Needs tracefs
 *            mounted (for the event's id) and CONFIG_FTRACE_SYSCALLS.
 *            Every successful listen() wakes us, a TCP one too (then
 *            twice, with listenev.c's; the scans are rationed).
 *
 * Not a kprobe: it needs CONFIG_KPROBES, which kernels built for VMs
 * (Firecracker's among them) often leave out, and adds nothing here
 * that fexit does not.
 *
 * Either follows the socket (fexit: sock->sk) or the calling process
 * (syscall: current->nsproxy) to its network namespace, with offsets
 * from BTF as listenev.c does, and stays quiet for other namespaces;
 * when the filter does not load, a program without it does, and a
 * listen() in another namespace costs one scan (listens are rare).
 * Refused both ways, this is said once at start and the TCP trigger
 * goes on alone: Unix sockets are then seen by the poll (-S).
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpfprog.h"
#include "guest.h"
#include "log.h"

#define UNIXEV_FUNC	"unix_listen"
#define UNIXEV_EVENT	"events/syscalls/sys_exit_listen/id"
#define UNIXEV_CPUS_MAX	4096

enum unixev_way { UNIXEV_FEXIT, UNIXEV_SYSCALL };

/* From the pointer the program starts with to its netns inode number. */
struct unix_filter {
	int		ok;		/* BTF has all three */
	uint32_t	off_first;	/* socket->sk, task->nsproxy */
	uint32_t	off_net;	/* to the struct net */
	uint32_t	off_inum;	/* net->ns.inum */
	uint32_t	inum;		/* ours */
};

/* What BTF says, for both ways. */
struct unix_btf {
	uint32_t		fn;	/* unix_listen's type id; 0: none */
	struct unix_filter	filter[2];	/* by enum unixev_way */
};

static struct {
	int	prog, link;
	int	perf;			/* syscall: its perf event */
} ue = { -1, -1, -1 };

/*
 * One walk of the kernel's types for both ways: fexit's filter starts
 * from the socket (struct sock starts with its sock_common;
 * possible_net_t with its net), syscall's from the calling task.
 */
static void
unixev_btf(struct unix_btf *ub)
{
	struct btf_query	q[] = {		/* 2w, 2w + 1: way w's */
		{ "socket", "sk", 0, 0 },
		{ "sock_common", "skc_net", 0, 0 },
		{ "task_struct", "nsproxy", 0, 0 },
		{ "nsproxy", "net_ns", 0, 0 },
		{ "net", "ns", 0, 0 },
		{ "ns_common", "inum", 0, 0 },
		{ UNIXEV_FUNC, NULL, 0, 0 },
	};
	struct unix_filter	*f;
	struct stat		 st;
	int			 w, net;

	memset(ub, 0, sizeof *ub);
	(void)btf_lookup(q, sizeof q / sizeof q[0]);	/* found says */
	ub->fn = q[6].found ? q[6].off : 0;
	net = q[4].found && q[5].found && stat("/proc/self/ns/net", &st) == 0;
	for (w = UNIXEV_FEXIT; w <= UNIXEV_SYSCALL; w++) {
		f = &ub->filter[w];
		f->ok = net && q[2 * w].found && q[2 * w + 1].found;
		f->off_first = q[2 * w].off;
		f->off_net = q[2 * w + 1].off;
		f->off_inum = q[4].off + q[5].off;
		f->inum = net ? (uint32_t)st.st_ino : 0;
	}
}

/*
 * The program.  fexit's context is unix_listen(sock, backlog)'s
 * arguments as u64s, then its return value; sys_exit_listen's is the
 * trace record, whose return value is at 16 on every kernel (struct
 * syscall_trace_exit: the common header, the syscall's number, ret).
 */
static int
unixev_load(int map, enum unixev_way way, uint32_t fn,
    const struct unix_filter *uf)
{
	struct bpfprog	p = { .n = 0 };
	union bpf_attr	a;

	bpfprog_emit(&p, BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0); /* ctx */
	bpfprog_emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 16, 0); /* ret */
	bpfprog_jump_out(&p, (way == UNIXEV_FEXIT ? BPF_JMP32 : BPF_JMP) |
	    BPF_JNE | BPF_K, 3, 0);		/* listen() failed: out */
	if (uf != NULL) {
		if (way == UNIXEV_FEXIT)	/* r3 = sock */
			bpfprog_emit(&p, BPF_LDX | BPF_MEM | BPF_DW, 3, 6, 0,
			    0);
		else {				/* r3 = current */
			bpfprog_emit(&p, BPF_JMP | BPF_CALL, 0, 0, 0,
			    BPF_FUNC_get_current_task);
			bpfprog_emit(&p, BPF_ALU64 | BPF_MOV | BPF_X, 3, 0, 0,
			    0);
		}
		bpfprog_read(&p, (int32_t)uf->off_first, 8);
		bpfprog_read(&p, (int32_t)uf->off_net, 8);
		bpfprog_read(&p, (int32_t)uf->off_inum, 4);
		/* another namespace: out */
		bpfprog_jump_out(&p, BPF_JMP32 | BPF_JNE | BPF_K, 3,
		    (int32_t)uf->inum);
	}
	bpfprog_ringbuf_out(&p, map);
	memset(&a, 0, sizeof a);
	if (way == UNIXEV_FEXIT) {
		a.prog_type = BPF_PROG_TYPE_TRACING;
		a.expected_attach_type = BPF_TRACE_FEXIT;
		a.attach_btf_id = fn;
	} else
		a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
	return bpfprog_load(&p, &a, "Unix listen trigger");
}

/* The program of a way, with the namespace filter if it loads. */
static int
unixev_prog(int map, enum unixev_way way, const struct unix_btf *ub)
{
	const struct unix_filter	*uf = &ub->filter[way];
	int				 fd = -1, why = ENOENT;

	if (uf->ok && (fd = unixev_load(map, way, ub->fn, uf)) == -1)
		why = errno;
	if (fd == -1 && (fd = unixev_load(map, way, ub->fn, NULL)) != -1)
		log_debug("Unix listen trigger: no namespace filter (%s): "
		    "events from every network namespace", strerror(why));
	return fd;
}

/* fexit on unix_listen: 0, or -1 with errno set. */
static int
unixev_fexit(int map, const struct unix_btf *ub)
{
	union bpf_attr	a;

	if (ub->fn == 0) {
		errno = ENOENT;
		return -1;
	}
	if ((ue.prog = unixev_prog(map, UNIXEV_FEXIT, ub)) == -1)
		return -1;
	memset(&a, 0, sizeof a);
	a.raw_tracepoint.prog_fd = ue.prog;	/* no name: by its BTF id */
	if ((ue.link = bpfprog_sys(BPF_RAW_TRACEPOINT_OPEN, &a)) == -1)
		return -1;
	return 0;
}

/* The id of sys_exit_listen, from tracefs; -1 without it. */
static int
unixev_event_id(void)
{
	static const char	*dirs[] = { "/sys/kernel/tracing/",
	    "/sys/kernel/debug/tracing/" };
	char			 path[128], buf[16];
	const char		*errstr;
	ssize_t			 n = -1;
	size_t			 i;
	int			 fd, id;

	for (i = 0; n == -1 && i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dirs[i], UNIXEV_EVENT);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
	}
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	id = (int)strtonum(buf, 1, INT32_MAX, &errstr);
	if (errstr != NULL) {
		errno = EINVAL;
		return -1;
	}
	return id;
}

/*
 * The perf event that runs ue.prog on sys_exit_listen (tracepoint id):
 * one is enough, on any CPU.  A tracepoint's programs belong to the
 * tracepoint, not to its perf event, and run wherever it fires (the
 * kernel refuses the same program twice, EEXIST); a CPU is named only
 * because perf_event_open wants a task or a CPU.
 */
static int
unixev_perf(int id)
{
	struct perf_event_attr	pa;
	long			ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int			cpu, fd = -1;

	memset(&pa, 0, sizeof pa);
	pa.type = PERF_TYPE_TRACEPOINT;
	pa.size = sizeof pa;
	pa.config = (uint64_t)id;
	pa.sample_period = 1;
	/* The first CPU online (ENODEV: offline). */
	for (cpu = 0; fd == -1 && cpu < ncpu && cpu < UNIXEV_CPUS_MAX; cpu++)
		if ((fd = (int)syscall(__NR_perf_event_open, &pa, -1, cpu,
		    -1, PERF_FLAG_FD_CLOEXEC)) == -1 && errno != ENODEV)
			return -1;
	if (fd == -1)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, ue.prog) == -1 ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The sys_exit_listen tracepoint: 0, or -1 with errno set. */
static int
unixev_syscall(int map, const struct unix_btf *ub)
{
	int	id;

	if ((id = unixev_event_id()) == -1 ||
	    (ue.prog = unixev_prog(map, UNIXEV_SYSCALL, ub)) == -1 ||
	    (ue.perf = unixev_perf(id)) == -1)
		return -1;
	return 0;
}

/*
 * Wakes the scans through the ring buffer map on each listen() of a
 * Unix socket: 0, or -1 (said once; the TCP trigger goes on alone).
 */
int
unixev_start(int map)
{
	struct unix_btf	ub;
	int		why;

	unixev_btf(&ub);
	if (unixev_fexit(map, &ub) == 0) {
		log_debug("Unix listen trigger: fexit on " UNIXEV_FUNC);
		return 0;
	}
	log_debug("Unix listen trigger: no fexit on " UNIXEV_FUNC ": %s",
	    strerror(errno));
	unixev_stop();
	if (unixev_syscall(map, &ub) == 0) {
		log_debug("Unix listen trigger: the sys_exit_listen "
		    "tracepoint");
		return 0;
	}
	why = errno;
	unixev_stop();
	log_warnx("Unix listen trigger: neither fexit on " UNIXEV_FUNC
	    " nor the sys_exit_listen tracepoint (%s; -v says more): new Unix "
	    "sockets wait for a scan", strerror(why));
	return -1;
}

void
unixev_stop(void)
{
	if (ue.perf != -1)
		close(ue.perf);
	if (ue.link != -1)
		close(ue.link);
	if (ue.prog != -1)
		close(ue.prog);
	ue.perf = ue.link = ue.prog = -1;
}
