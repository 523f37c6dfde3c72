/*
 * Endpoint parsing and socket set-up.  vsock addresses are (CID, port)
 * pairs of u32; a Unix endpoint is a filesystem path, which is what
 * Firecracker, Cloud Hypervisor, vfkit and libkrun map guest vsock ports
 * to on the host.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"
#include "number.h"

static int
parse_u32(const char *s, const char *what, uint32_t max, uint32_t *out,
    char *err, size_t errlen)
{
	const char	*errstr;
	long long	 v;

	v = number_parse(s, 0, max, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "%s \"%s\" is %s", what, s, errstr);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_cid(const char *s, enum endpoint_role role, uint32_t *cid, char *err,
    size_t errlen)
{
	if (strcmp(s, "host") == 0)
		*cid = PH_CID_HOST;
	else if (strcmp(s, "local") == 0)
		*cid = PH_CID_LOCAL;
	else if (strcmp(s, "any") == 0) {
		if (role != EP_LISTEN) {
			snprintf(err, errlen, "vsock CID \"any\" can only be "
			    "listened on");
			return -1;
		}
		*cid = PH_CID_ANY;
	} else if (parse_u32(s, "vsock CID", PH_CID_ANY - 1, cid, err,
	    errlen) == -1)
		return -1;
	return 0;
}

static int
parse_vsock(const char *s, enum endpoint_role role, struct endpoint *ep,
    char *err, size_t errlen)
{
	char		 buf[64], *colon;

	if (strlcpy(buf, s, sizeof buf) >= sizeof buf) {
		snprintf(err, errlen, "vsock address too long");
		return -1;
	}
	ep->type = EP_VSOCK;
	ep->cid = role == EP_LISTEN ? PH_CID_ANY : PH_CID_HOST;
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		if (parse_cid(buf, role, &ep->cid, err, errlen) == -1)
			return -1;
		s = colon + 1;
	} else
		s = buf;
	if (*s == '\0') {
		snprintf(err, errlen, "vsock endpoint has no port");
		return -1;
	}
	/* VMADDR_PORT_ANY (-1) is not a port one can name. */
	return parse_u32(s, "vsock port", 0xfffffffeU, &ep->port, err, errlen);
}

int
endpoint_parse(const char *s, enum endpoint_role role, struct endpoint *ep,
    char *err, size_t errlen)
{
	memset(ep, 0, sizeof *ep);
	if (strncmp(s, "vsock:", 6) == 0) {
		if (parse_vsock(s + 6, role, ep, err, errlen) == -1)
			return -1;
		if (ep->cid == PH_CID_ANY)
			snprintf(ep->str, sizeof ep->str, "vsock:%u", ep->port);
		else
			snprintf(ep->str, sizeof ep->str, "vsock:%u:%u",
			    ep->cid, ep->port);
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		if (*s == '\0') {
			snprintf(err, errlen, "unix endpoint has no path");
			return -1;
		}
		if (strlcpy(ep->path, s, sizeof ep->path) >= sizeof ep->path) {
			snprintf(err, errlen, "unix socket path longer than "
			    "%zu bytes", sizeof ep->path - 1);
			return -1;
		}
		ep->type = EP_UNIX;
		snprintf(ep->str, sizeof ep->str, "unix:%s", ep->path);
		return 0;
	}
	snprintf(err, errlen, "\"%.64s\" is not an endpoint (vsock:PORT, "
	    "vsock:CID:PORT or unix:PATH)", s);
	return -1;
}

static socklen_t
endpoint_sockaddr(const struct endpoint *ep, struct sockaddr_storage *ss)
{
	struct sockaddr_vm	*svm = (struct sockaddr_vm *)ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof *ss);
	if (ep->type == EP_VSOCK) {
		svm->svm_family = AF_VSOCK;
		svm->svm_cid = ep->cid;
		svm->svm_port = ep->port;
		return sizeof *svm;
	}
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, ep->path, sizeof sun->sun_path);
	return sizeof *sun;
}

/*
 * vsock sockets keep the kernel's buffer (SO_VM_SOCKETS_BUFFER_SIZE, 256
 * KiB: the credit a receiver grants its peer).  bench/vsock (make
 * bench-vsock, 2026-12-06, both agents setting it, two runs each of 3x3 s,
 * porthole's 1-stream bulk / its relay CPU per GiB): 256 KiB 777 and 485
 * Mbit/s / 6.3 and 10.4 s; 1 MiB 521 and 666 / 9.3 and 7.1; 4 MiB 374 and
 * 363 / 13.1 and 15.2.  More buffer bought nothing within the noise, 4 MiB
 * cost CPU, and every buffer is kernel memory a stalled connection may fill.
 */
static int
endpoint_socket(const struct endpoint *ep)
{
	int	family = ep->type == EP_VSOCK ? AF_VSOCK : AF_UNIX;

	return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/*
 * A Unix socket file left by an agent that died is removed; one that
 * somebody still listens on, or a file that is not a socket, is not.
 */
static int
unix_clear_stale(const struct endpoint *ep, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct stat		 st;
	socklen_t		 sl;
	int			 fd, r;

	if (lstat(ep->path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    ep->path);
		errno = ENOTSOCK;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	sl = endpoint_sockaddr(ep, &ss);
	r = connect(fd, (struct sockaddr *)&ss, sl);
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "another process is listening on %s",
		    ep->path);
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED)
		return -1;
	return unlink(ep->path);
}

/*
 * Returns a listening, non-blocking socket, or -1 with err set for the
 * log and errno for the caller (EADDRINUSE: another process listens).
 */
int
endpoint_listen(const struct endpoint *ep, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	mode_t			 old;
	int			 fd, r;

	*err = '\0';
	if (ep->type == EP_UNIX && unix_clear_stale(ep, err, errlen) == -1)
		goto fail;
	if ((fd = endpoint_socket(ep)) == -1)
		goto fail;
	sl = endpoint_sockaddr(ep, &ss);
	/* Only the owner (and the VMM running as the owner) may connect. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&ss, sl);
	umask(old);
	if (r == -1 || listen(fd, 128) == -1) {
		r = errno;
		close(fd);
		errno = r;
		goto fail;
	}
	return fd;
fail:
	if (*err == '\0')
		snprintf(err, errlen, "%s: %s", ep->str, strerror(errno));
	return -1;
}

/*
 * A vsock connection comes from a reserved source port (1 to 1023), which
 * only CAP_NET_BIND_SERVICE may bind: the host takes it as the sign of
 * the guest agent (host-agent/gate.c), as NFS servers take a client's.
 * Ports are taken in turn, downwards, so that a busy one is not retried
 * at once; vsock has one port space per CID, whatever the peer.
 * Returns 0, or -1 with errno: EACCES without the capability,
 * EADDRINUSE with every reserved port taken.
 */
static int
endpoint_bind_reserved(int fd)
{
	static uint32_t		next = PH_RESERVED_PORT_MAX;
	struct sockaddr_vm	svm;
	uint32_t		i;

	memset(&svm, 0, sizeof svm);
	svm.svm_family = AF_VSOCK;
	svm.svm_cid = VMADDR_CID_ANY;
	for (i = 0; i < PH_RESERVED_PORT_MAX; i++) {
		svm.svm_port = next;
		next = next == 1 ? PH_RESERVED_PORT_MAX : next - 1;
		if (bind(fd, (struct sockaddr *)&svm, sizeof svm) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

/*
 * Starts a non-blocking connect.  Returns the socket with *pending set
 * when the connection is still under way (wait for it to be writable,
 * then check SO_ERROR), or -1 with errno set.  For vsock, from a
 * reserved port: *unreserved is set if this process may not bind one
 * (it connects from any port then, and the host refuses it unless told
 * otherwise).
 */
int
endpoint_connect(const struct endpoint *ep, int *pending, int *unreserved)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd, saved;

	*pending = 0;
	*unreserved = 0;
	if ((fd = endpoint_socket(ep)) == -1)
		return -1;
	if (ep->type == EP_VSOCK && endpoint_bind_reserved(fd) == -1) {
		if (errno != EACCES && errno != EPERM) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		*unreserved = 1;
	}
	sl = endpoint_sockaddr(ep, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*pending = 1;
		return fd;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Makes a relative Unix path absolute, so that it names the same file
 * after a daemon has changed to the root directory.
 */
int
endpoint_absolute(struct endpoint *ep, char *err, size_t errlen)
{
	char	cwd[PATH_MAX], path[sizeof ep->path];
	int	n;

	if (ep->type != EP_UNIX || ep->path[0] == '/')
		return 0;
	if (getcwd(cwd, sizeof cwd) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return -1;
	}
	n = snprintf(path, sizeof path, "%s/%s", cwd, ep->path);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errlen, "unix socket path %s/%s is longer than "
		    "%zu bytes", cwd, ep->path, sizeof path - 1);
		return -1;
	}
	strlcpy(ep->path, path, sizeof ep->path);
	snprintf(ep->str, sizeof ep->str, "unix:%s", ep->path);
	return 0;
}

void
endpoint_unlink(const struct endpoint *ep)
{
	if (ep->type == EP_UNIX)
		unlink(ep->path);
}
