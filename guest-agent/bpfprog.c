/*
 * BPF programs written out by hand (bpfprog.h says why): the emitter,
 * the pieces the triggers' programs share, and the loader, which passes
 * the verifier's words on to the debug log when it refuses one.
 */
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include "bpfprog.h"
#include "log.h"

int
bpfprog_sys(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

void
bpfprog_emit(struct bpfprog *p, uint8_t code, uint8_t dst, uint8_t src,
    int16_t off, int32_t imm)
{
	struct bpf_insn	*i;

	if (p->n == BPFPROG_MAX)
		fatalx("BPF trigger: program too long");
	i = &p->i[p->n++];
	memset(i, 0, sizeof *i);
	i->code = code;
	i->dst_reg = dst;
	i->src_reg = src;
	i->off = off;
	i->imm = imm;
}

/* A conditional jump (code, on reg against imm) to the program's exit. */
void
bpfprog_jump_out(struct bpfprog *p, uint8_t code, uint8_t reg, int32_t imm)
{
	if (p->nout == BPFPROG_OUTS)
		fatalx("BPF trigger: too many exits");
	p->out[p->nout++] = (int16_t)p->n;
	bpfprog_emit(p, code, reg, 0, 0, imm);
}

/* r3 = the u64 (or u32) at r3 + off, through the fp-8 stack slot; or out. */
void
bpfprog_read(struct bpfprog *p, int32_t off, int size)
{
	bpfprog_emit(p, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, off);
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0);
	bpfprog_emit(p, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8);
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, size);
	bpfprog_emit(p, BPF_JMP | BPF_CALL, 0, 0, 0,
	    BPF_FUNC_probe_read_kernel);
	bpfprog_jump_out(p, BPF_JMP | BPF_JNE | BPF_K, 0, 0);
	bpfprog_emit(p, BPF_LDX | BPF_MEM | (size == 8 ? BPF_DW : BPF_W), 3,
	    10, -8, 0);
}

/*
 * The end of every trigger's program: r3's 8 bytes into the ring buffer
 * map (which wakes the agent), then the exit every jump out goes to.
 */
void
bpfprog_ringbuf_out(struct bpfprog *p, int map)
{
	int	k;

	bpfprog_emit(p, BPF_STX | BPF_MEM | BPF_DW, 10, 3, -8, 0);
	bpfprog_emit(p, BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0,
	    map);
	bpfprog_emit(p, 0, 0, 0, 0, 0);			/* map, cont. */
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	bpfprog_emit(p, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 8); /* size */
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0); /* flags */
	bpfprog_emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output);
	for (k = 0; k < p->nout; k++)		/* out: */
		p->i[p->out[k]].off = (int16_t)(p->n - p->out[k] - 1);
	bpfprog_emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	bpfprog_emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/*
 * Loads p, with a (its type and attach fields set by the caller): the
 * program's descriptor, or -1 with the verifier's reason in the debug
 * log under what.
 */
int
bpfprog_load(struct bpfprog *p, union bpf_attr *a, const char *what)
{
	char	log[8192] = "";
	int	fd;

	a->insns = (uint64_t)(uintptr_t)p->i;
	a->insn_cnt = (uint32_t)p->n;
	/* probe_read_kernel wants a GPL-compatible program. */
	a->license = (uint64_t)(uintptr_t)"Dual BSD/GPL";
	a->log_buf = (uint64_t)(uintptr_t)log;
	a->log_size = sizeof log;
	a->log_level = 1;
	if ((fd = bpfprog_sys(BPF_PROG_LOAD, a)) == -1 && log[0] != '\0')
		log_debug("%s: the verifier says: %s", what, log);
	return fd;
}
