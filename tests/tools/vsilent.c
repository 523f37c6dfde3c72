/*
 * vsilent: a vsock peer that never answers, for the VM test (tests/vm).
 * Runs only inside the VM that test boots, which has no vsock device:
 * /dev/vhost-vsock here is that VM's own kernel module, not a host's.
 *
 *	vsilent CID	register CID and hold it until killed; prints
 *			"cid CID registered, never answering"
 *
 * Over vsock_loopback every connection request is answered at once: by
 * the listener, or with a reset when there is none.  A peer that never
 * answers (a VM that hangs, a host agent's machine gone) needs a CID
 * that is registered but never serves its queues: that is what this is,
 * a guest CID of vhost_vsock whose virtqueues are never set up.  Packets
 * for it are queued and never delivered, so a connect to it stays
 * pending until the connecting side's timeout.
 */
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	uint64_t	 cid;
	char		*end;
	int		 fd;

	if (argc != 2) {
		fprintf(stderr, "usage: vsilent CID\n");
		return 2;
	}
	errno = 0;
	cid = strtoull(argv[1], &end, 10);
	/* 0-2 are reserved, -1 is VMADDR_CID_ANY. */
	if (*argv[1] == '\0' || *end != '\0' || errno != 0 || cid < 3 ||
	    cid >= 0xffffffffULL) {
		fprintf(stderr, "vsilent: bad CID %s\n", argv[1]);
		return 2;
	}
	if ((fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC)) == -1) {
		fprintf(stderr, "vsilent: /dev/vhost-vsock: %s\n",
		    strerror(errno));
		return 1;
	}
	if (ioctl(fd, VHOST_SET_OWNER, NULL) == -1 ||
	    ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid) == -1) {
		fprintf(stderr, "vsilent: cid %llu: %s\n",
		    (unsigned long long)cid, strerror(errno));
		return 1;
	}
	printf("cid %llu registered, never answering\n",
	    (unsigned long long)cid);
	fflush(stdout);
	for (;;)
		pause();
}
