/*
 * BPF programs written out by hand (bpfprog.c), for the triggers that
 * wake the bind scans: listenev.c's on inet_sock_set_state, unixev.c's
 * on unix_listen.  A dozen instructions each, so no compiler and no
 * library: the instructions are emitted one by one, and jumps to the
 * common exit are fixed up once its place is known.
 */
#ifndef PH_BPFPROG_H
#define PH_BPFPROG_H

#include <linux/bpf.h>
#include <stdint.h>

#define BPFPROG_MAX	48	/* instructions */
#define BPFPROG_OUTS	8	/* jumps to the exit */

struct bpfprog {
	struct bpf_insn	i[BPFPROG_MAX];
	int		n;
	int16_t		out[BPFPROG_OUTS];	/* jumps to fix up */
	int		nout;
};

int	 bpfprog_sys(int, union bpf_attr *);
void	 bpfprog_emit(struct bpfprog *, uint8_t, uint8_t, uint8_t, int16_t,
	    int32_t);
void	 bpfprog_jump_out(struct bpfprog *, uint8_t, uint8_t, int32_t);
void	 bpfprog_read(struct bpfprog *, int32_t, int);
void	 bpfprog_ringbuf_out(struct bpfprog *, int);
int	 bpfprog_load(struct bpfprog *, union bpf_attr *, const char *);

#endif
