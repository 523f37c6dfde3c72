# porthole: a plain Makefile.  `make check` and `make demo` install the
# Debian packages they need first (mk/deps.sh).

PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/bin
SBINDIR ?=	$(PREFIX)/sbin
LIBEXECDIR ?=	$(PREFIX)/libexec
MANDIR ?=	$(PREFIX)/share/man
DOCDIR ?=	$(PREFIX)/share/doc/porthole
# systemd reads units under /usr/local/lib too; OpenRC only /etc/init.d.
SYSTEMDUNITDIR ?=	$(PREFIX)/lib/systemd/system
SYSTEMDUSERUNITDIR ?=	$(PREFIX)/lib/systemd/user
SYSUSERSDIR ?=	$(PREFIX)/lib/sysusers.d
SYSCONFDIR ?=	/etc
DESTDIR ?=

CC ?=		cc
PKG_CONFIG ?=	pkg-config
PKGS =		libevent libbsd-overlay libmnl jansson libcap-ng libsodium \
		libnftnl

CFLAGS ?=	-O2 -g
WARNINGS =	-Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		-Wmissing-prototypes -Wstrict-prototypes
ifdef SANITIZE
CFLAGS +=	-O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
LDFLAGS +=	-fsanitize=address,undefined
endif
PH_CFLAGS =	-std=gnu11 $(WARNINGS) -D_GNU_SOURCE -Iproto \
		$(shell $(PKG_CONFIG) --cflags $(PKGS))
PH_LIBS =	$(shell $(PKG_CONFIG) --libs $(PKGS))
CHECK_LIBS =	$(shell $(PKG_CONFIG) --libs check)

PROTO_SRCS = \
	proto/addr.c \
	proto/auth.c \
	proto/buf.c \
	proto/dgram.c \
	proto/dgrelay.c \
	proto/dgstream.c \
	proto/endpoint.c \
	proto/frameio.c \
	proto/log.c \
	proto/number.c \
	proto/proto.c \
	proto/relay.c \
	proto/sockname.c \
	proto/xmalloc.c
HOST_SRCS = \
	host-agent/admit.c \
	host-agent/api.c \
	host-agent/api_body.c \
	host-agent/api_json.c \
	host-agent/api_path.c \
	host-agent/api_reach.c \
	host-agent/api_stream.c \
	host-agent/conn.c \
	host-agent/events.c \
	host-agent/forward.c \
	host-agent/gate.c \
	host-agent/host.c \
	host-agent/limits.c \
	host-agent/hostports.c \
	host-agent/hostsock.c \
	host-agent/listener.c \
	host-agent/pair.c \
	host-agent/metrics.c \
	host-agent/policy.c \
	host-agent/policy_file.c \
	host-agent/policy_index.c \
	host-agent/policy_parse.c \
	host-agent/privport.c \
	host-agent/reach.c \
	host-agent/reach_conn.c \
	host-agent/reach_parse.c \
	host-agent/reason.c \
	host-agent/session.c \
	host-agent/sockdir.c \
	host-agent/udp.c \
	host-agent/usock.c
# portholectl shares where the API socket is (api_path.c, api.h).
CTL_SRCS = \
	ctl/ctl_http.c \
	ctl/ctl_show.c \
	ctl/portholectl.c \
	host-agent/api_path.c \
	proto/fwtable.c
GUEST_SRCS = \
	guest-agent/bpfprog.c \
	guest-agent/btf.c \
	guest-agent/daemon.c \
	guest-agent/dial.c \
	guest-agent/execev.c \
	guest-agent/guest.c \
	guest-agent/jail.c \
	guest-agent/notify.c \
	guest-agent/gstream.c \
	guest-agent/listenev.c \
	guest-agent/localsock.c \
	guest-agent/nat.c \
	guest-agent/natdump.c \
	guest-agent/natrule.c \
	guest-agent/natwalk.c \
	guest-agent/privdrop.c \
	guest-agent/privsep.c \
	guest-agent/proc.c \
	guest-agent/pxmsg.c \
	guest-agent/pxsock.c \
	guest-agent/reach.c \
	guest-agent/reachsock.c \
	guest-agent/scan.c \
	guest-agent/gsession.c \
	guest-agent/status.c \
	guest-agent/status_show.c \
	guest-agent/unixev.c \
	guest-agent/usock.c \
	guest-agent/uwatch.c \
	guest-agent/watch.c \
	proto/fwtable.c
# porthole-docker-proxy: dockerd's userland proxy, asking the guest agent
SHIM_SRCS = \
	shim/dproxy.c \
	shim/dproxy_args.c \
	guest-agent/pxmsg.c \
	proto/addr.c

PROTO_OBJS =	$(PROTO_SRCS:.c=.o)
HOST_OBJS =	$(HOST_SRCS:.c=.o)
GUEST_OBJS =	$(GUEST_SRCS:.c=.o)
CTL_OBJS =	$(CTL_SRCS:.c=.o)
SHIM_OBJS =	$(SHIM_SRCS:.c=.o)
# The host agent's objects other than main(), for unit tests.
HOST_LIB_OBJS =	$(filter-out host-agent/host.o,$(HOST_OBJS))

UNIT_TESTS = \
	tests/check_buf \
	tests/check_proto \
	tests/check_auth \
	tests/check_peers \
	tests/check_endpoint \
	tests/check_number \
	tests/check_fwtable \
	tests/check_policy \
	tests/check_policy_parse \
	tests/check_policy_index \
	tests/check_forward \
	tests/check_api \
	tests/check_admit \
	tests/check_relay \
	tests/check_notify \
	tests/check_dgram \
	tests/check_pxmsg \
	$(GUEST_UNIT_TESTS)
# The guest agent's units, each with the test standing in for the rest.
GUEST_UNIT_TESTS = \
	tests/check_dial \
	tests/check_watch \
	tests/check_gsession \
	tests/check_proc \
	tests/check_privsep \
	tests/check_scan \
	tests/check_natrule
TEST_TOOLS = \
	tests/tools/phtest \
	tests/tools/phstorm \
	tests/tools/vsilent \
	tests/tools/phudp \
	bench/tools/phbench
SCALE_TOOLS = \
	bench/tools/phguests \
	bench/tools/phdecide

PROGS = \
	host-agent/porthole-host \
	ctl/portholectl \
	guest-agent/porthole-guest \
	shim/porthole-docker-proxy
MANS = \
	docs/porthole-host.8 \
	docs/porthole-guest.8 \
	docs/porthole-docker-proxy.8 \
	docs/porthole-policy.5 \
	docs/portholectl.1
# Installed: PROGS in BINDIR but the guest agent in SBINDIR (it runs as
# root from the VM's init) and dockerd's userland proxy in LIBEXECDIR
# (dockerd runs it, nobody else), each page of MANS by its section, and
# DOCS in DOCDIR under their paths here, so the README's links to docs/
# work.
SBIN_PROGS = \
	guest-agent/porthole-guest
LIBEXEC_PROGS = \
	shim/porthole-docker-proxy
BIN_PROGS =	$(filter-out $(SBIN_PROGS) $(LIBEXEC_PROGS),$(PROGS))
DOCS = \
	README.md \
	docs/api.md \
	docs/docker.md \
	docs/hypervisors.md \
	docs/init.md \
	docs/install.md \
	docs/performance.md \
	docs/policy.md \
	docs/protocol.md \
	docs/reliability.md \
	docs/testing.md \
	docs/troubleshooting.md
EXAMPLES = \
	contrib/busybox/inittab \
	contrib/openrc/porthole-guest.confd \
	contrib/porthole-notify
# contrib files that name the install paths, made from FILE.in
CONTRIB_GEN = \
	contrib/busybox/inittab \
	contrib/openrc/porthole-guest \
	contrib/systemd/porthole-guest.service \
	contrib/systemd/porthole-host.service

.SECONDARY: $(UNIT_TESTS:=.o)

.PHONY: all contrib check test check-unit check-e2e check-man check-valgrind \
	check-stress demo install bench bench-scale bench-usock \
	uninstall clean fuzz deps

all: $(PROGS) contrib

contrib: $(CONTRIB_GEN)

# Objects are rebuilt when the flags change (a SANITIZE=1 build, say).
.flags: FORCE
	@echo '$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS)' > $@
FORCE:

# The contrib files are made again when an install path changes.
PATHS =	$(BINDIR):$(SBINDIR):$(DOCDIR):$(SYSCONFDIR):$(SYSTEMDUNITDIR):$(SYSTEMDUSERUNITDIR)
.paths: FORCE
	@echo '$(PATHS)' | cmp -s - $@ || echo '$(PATHS)' > $@

$(CONTRIB_GEN): %: %.in .paths
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	    -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g' \
	    -e 's|@SYSTEMDUSERUNITDIR@|$(SYSTEMDUSERUNITDIR)|g' $< > $@

%.o: %.c .flags $(wildcard proto/*.h) $(wildcard host-agent/*.h) \
    $(wildcard guest-agent/*.h)
	$(CC) $(CFLAGS) $(PH_CFLAGS) -c -o $@ $<

ctl/%.o: ctl/%.c .flags $(wildcard proto/*.h) ctl/ctl.h host-agent/api.h
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Ihost-agent -c -o $@ $<

host-agent/porthole-host: $(HOST_OBJS) $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PH_LIBS)

ctl/portholectl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PH_LIBS)

guest-agent/porthole-guest: $(GUEST_OBJS) $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PH_LIBS)

shim/%.o: shim/%.c .flags shim/dproxy.h guest-agent/pxmsg.h proto/addr.h
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Iguest-agent -c -o $@ $<

shim/porthole-docker-proxy: $(SHIM_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

.PHONY: clean-shim
clean: clean-shim
clean-shim:
	rm -f $(SHIM_OBJS)

tests/check_%.o: tests/check_%.c .flags $(wildcard proto/*.h) \
    $(wildcard host-agent/*.h)
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Ihost-agent -c -o $@ $<

tests/check_%: tests/check_%.o $(PROTO_OBJS) $(HOST_LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# The guest agent's readiness notification, alone (no host objects).
tests/check_notify.o: tests/check_notify.c .flags guest-agent/guest.h
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Iguest-agent -c -o $@ $<

tests/check_notify: tests/check_notify.o guest-agent/notify.o \
    guest-agent/daemon.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# The table of forwards, alone (no agent's objects).
tests/check_fwtable: tests/check_fwtable.o proto/fwtable.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

$(GUEST_UNIT_TESTS:=.o): %.o: %.c .flags guest-agent/guest.h \
    $(wildcard proto/*.h)
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Iguest-agent -c -o $@ $<

tests/check_watch: tests/check_watch.o guest-agent/watch.o \
    guest-agent/uwatch.o guest-agent/usock.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/check_scan: tests/check_scan.o guest-agent/scan.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/check_proc: tests/check_proc.o guest-agent/proc.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# dial.c with stand-in relays, so that a connection held open holds
# no descriptor (check_dial opens GUEST_CONNS_MAX of them).
tests/check_dial: tests/check_dial.o guest-agent/dial.o \
    $(filter-out proto/relay.o proto/dgrelay.o,$(PROTO_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# NAT objects: the helper reads the rules, the worker checks them.
NAT_OBJS =	guest-agent/natdump.o guest-agent/natrule.o guest-agent/natwalk.o

tests/check_natrule: tests/check_natrule.o guest-agent/natrule.o \
    guest-agent/natwalk.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/check_privsep: tests/check_privsep.o guest-agent/privsep.o \
    guest-agent/proc.o guest-agent/reachsock.o guest-agent/usock.o \
    $(NAT_OBJS) $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# The proxy socket's lines and the shim's arguments, alone.
tests/check_pxmsg.o: tests/check_pxmsg.c .flags shim/dproxy.h \
    guest-agent/pxmsg.h
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Iguest-agent -Ishim -c -o $@ $<

tests/check_pxmsg: tests/check_pxmsg.o guest-agent/pxmsg.o \
    shim/dproxy_args.o proto/addr.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/check_gsession: tests/check_gsession.o guest-agent/gsession.o \
    guest-agent/watch.o guest-agent/uwatch.o guest-agent/usock.o \
    $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/tools/%: tests/tools/%.c .flags
	$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS) -o $@ $< $(PH_LIBS)

bench/tools/%: bench/tools/%.c .flags
	$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS) -o $@ $<

# phbench reads its numbers with proto/'s number_arg.
bench/tools/phbench: bench/tools/phbench.c .flags proto/number.o
	$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS) -o $@ $< proto/number.o \
	    $(PH_LIBS)

# bench/scale's simulated guests speak the protocol with proto/'s code;
# its decision timer links the host agent's policy code.
bench/tools/phguests: bench/tools/phguests.c .flags $(PROTO_OBJS)
	$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS) -o $@ $< $(PROTO_OBJS) \
	    $(PH_LIBS)

bench/tools/phdecide: bench/tools/phdecide.c .flags $(PROTO_OBJS) \
    $(HOST_LIB_OBJS)
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Ihost-agent $(LDFLAGS) -o $@ $< \
	    $(HOST_LIB_OBJS) $(PROTO_OBJS) $(PH_LIBS)

deps:
	@mk/deps.sh build

# make check is what CI runs: every test, the end-to-end tests again
# beside a CPU hog per core, then all of them again under
# AddressSanitizer and UndefinedBehaviorSanitizer, the end-to-end tests
# under valgrind (the checks of RSS figures skipped: they would measure
# valgrind), and each fuzz target for CHECK_FUZZ_SECONDS.  make test
# is the quick part alone.  Recursive, so that pkg-config runs after the
# packages are installed, and so that each build has its own flags.
CHECK_FUZZ_SECONDS ?= 60
check:
	@mk/deps.sh check
	@$(MAKE) --no-print-directory test
	@echo "== end-to-end tests again beside a busy loop per CPU"
	@$(MAKE) --no-print-directory check-stress
	@echo "== the whole suite again under ASan and UBSan"
	@$(MAKE) --no-print-directory SANITIZE=1 test
	@echo "== end-to-end tests under valgrind"
	@$(MAKE) --no-print-directory check-valgrind
	@echo "== fuzzing, $(CHECK_FUZZ_SECONDS) s per target"
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

# bench/run: porthole beside direct, haproxy and socat; figures, never a
# failure.  BENCH_ARGS: runs and seconds per measurement (3 3).
bench:
	@mk/deps.sh bench
	@$(MAKE) --no-print-directory all bench/tools/phbench
	@bench/run $(BENCH_ARGS)

# bench/vsock, in the vsock test's VM: porthole over AF_VSOCK beside a
# socat pair over AF_VSOCK and direct TCP, as ratios; figures, never a
# failure.  BENCH_VSOCK_ARGS: runs and seconds per measurement (3 3).
.PHONY: bench-vsock
bench-vsock:
	@mk/deps.sh bench-vsock
	@$(MAKE) --no-print-directory all bench/tools/phbench
	@bench/vsock-vm.sh $(BENCH_VSOCK_ARGS)

# bench/usock: a guest Unix socket through porthole beside a direct Unix
# connection, socat and a socat pair; figures, never a failure.
# BENCH_USOCK_ARGS: rounds, MiB each way, round-trip seconds (5 1024 3).
bench-usock:
	@mk/deps.sh bench
	@$(MAKE) --no-print-directory all bench/tools/phbench
	@bench/usock $(BENCH_USOCK_ARGS)

# bench/scale: one host agent, a thousand simulated guests; figures.
# SCALE_ARGS: guests, forwards each, and the single guest's forwards.
bench-scale:
	@mk/deps.sh bench
	@$(MAKE) --no-print-directory all $(SCALE_TOOLS)
	@bench/scale $(SCALE_ARGS)

test:
	@mk/deps.sh check
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_TOOLS)
	@$(MAKE) --no-print-directory check-unit check-man check-e2e check-vsock-run

check-unit: $(UNIT_TESTS)
	@tests/run-unit $(UNIT_TESTS)

check-man: $(PROGS)
	@tests/lint-man $(MANS)

# Sanitized agents are slower: deadlines stretch (PH_SLOW), and memory
# figures are the sanitizer's, not ours (PH_SANITIZE skips those checks).
check-e2e: $(PROGS) $(TEST_TOOLS)
	@$(if $(SANITIZE),PH_SLOW=3 PH_SANITIZE=1) tests/run-e2e

# The end-to-end tests beside one busy loop per CPU (tests/tools/cpuhogs),
# deadlines unscaled: a test that assumes a speed fails here, not on a
# user's busy machine.
check-stress: $(PROGS) $(TEST_TOOLS)
	@tests/tools/cpuhogs tests/run-e2e

check-valgrind:
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	@PH_VALGRIND=1 PH_SLOW=10 tests/run-e2e

# AF_VSOCK end to end, in a VM that tests/vm/run boots (QEMU, Debian's
# kernel with vsock_loopback): the agents exactly as built here.
.PHONY: check-vsock check-vsock-run
check-vsock:
	@mk/deps.sh vsock
	@$(MAKE) --no-print-directory check-vsock-run

check-vsock-run: $(PROGS) $(TEST_TOOLS)
	@$(if $(SANITIZE),PH_SLOW=3) tests/vm/run

demo:
	@mk/deps.sh demo
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

FUZZ_TARGETS = \
	tests/fuzz/fuzz_frame \
	tests/fuzz/fuzz_endpoint \
	tests/fuzz/fuzz_dgram \
	tests/fuzz/fuzz_api_body \
	tests/fuzz/fuzz_policy \
	tests/fuzz/fuzz_auth \
	tests/fuzz/fuzz_pxmsg \
	tests/fuzz/fuzz_natrule
FUZZ_CFLAGS =	-g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
		-D_GNU_SOURCE -Iproto $(shell $(PKG_CONFIG) --cflags libbsd-overlay)
FUZZ_SECONDS ?=	20

tests/fuzz/fuzz_frame: tests/fuzz/fuzz_frame.c proto/proto.c proto/buf.c \
    proto/addr.c proto/sockname.c
	clang $(FUZZ_CFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

tests/fuzz/fuzz_endpoint: tests/fuzz/fuzz_endpoint.c proto/endpoint.c \
    proto/number.c
	clang $(FUZZ_CFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

tests/fuzz/fuzz_dgram: tests/fuzz/fuzz_dgram.c proto/dgram.c proto/buf.c
	clang $(FUZZ_CFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

tests/fuzz/fuzz_api_body: tests/fuzz/fuzz_api_body.c host-agent/api_body.c \
    host-agent/policy.c host-agent/policy_index.c proto/addr.c proto/xmalloc.c proto/log.c
	clang $(FUZZ_CFLAGS) -Ihost-agent -o $@ $^ \
	    $(shell $(PKG_CONFIG) --libs libbsd-overlay jansson libevent)

tests/fuzz/fuzz_policy: tests/fuzz/fuzz_policy.c host-agent/policy_parse.c \
    host-agent/policy_index.c host-agent/policy.c host-agent/reach_parse.c \
    proto/addr.c proto/endpoint.c proto/number.c \
    proto/sockname.c proto/xmalloc.c $(wildcard host-agent/*.h)
	clang $(FUZZ_CFLAGS) -Ihost-agent -o $@ $(filter %.c,$^) \
	    $(shell $(PKG_CONFIG) --libs libbsd-overlay)

tests/fuzz/fuzz_auth: tests/fuzz/fuzz_auth.c proto/auth.c proto/proto.c \
    proto/buf.c proto/addr.c
	clang $(FUZZ_CFLAGS) -o $@ $^ \
	    $(shell $(PKG_CONFIG) --libs libbsd-overlay libsodium)

tests/fuzz/fuzz_pxmsg: tests/fuzz/fuzz_pxmsg.c guest-agent/pxmsg.c \
    shim/dproxy_args.c proto/addr.c guest-agent/pxmsg.h shim/dproxy.h
	clang $(FUZZ_CFLAGS) -Iguest-agent -Ishim -o $@ $(filter %.c,$^) \
	    $(shell $(PKG_CONFIG) --libs libbsd-overlay)

# nf_tables rules as a dump brings them, through libnftnl's parser.
tests/fuzz/fuzz_natrule: tests/fuzz/fuzz_natrule.c guest-agent/natrule.c \
    guest-agent/natwalk.c proto/addr.c proto/log.c proto/xmalloc.c \
    guest-agent/guest.h
	clang $(FUZZ_CFLAGS) -Iguest-agent -o $@ $(filter %.c,$^) \
	    $(shell $(PKG_CONFIG) --libs libbsd-overlay libnftnl libmnl libevent)

fuzz:
	@mk/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    n=$$(basename $$t); mkdir -p tests/fuzz/corpus/$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=tests/fuzz/corpus/$$n- \
	        tests/fuzz/corpus/$$n tests/fuzz/seeds/$$n \
	        >tests/fuzz/corpus/$$n.log 2>&1; rc=$$?; \
	    grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' \
	        tests/fuzz/corpus/$$n.log; \
	    if [ $$rc != 0 ]; then \
	        echo "fuzz: $$n failed (exit $$rc): its input and log are" \
	            "in tests/fuzz/corpus/"; \
	        grep -vE '^(INFO|#[0-9])' tests/fuzz/corpus/$$n.log | \
	            head -n 40; \
	        exit 1; \
	    fi; \
	done

install: all contrib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR)/docs \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSTEMDUSERUNITDIR) $(DESTDIR)$(SYSCONFDIR)/init.d \
	    $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BIN_PROGS) $(DESTDIR)$(BINDIR)/
	install -m 755 $(SBIN_PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 755 $(LIBEXEC_PROGS) $(DESTDIR)$(LIBEXECDIR)/
	@for m in $(MANS); do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
	    echo "install -m 644 $$m $$d/"; \
	    install -d $$d && install -m 644 $$m $$d/ || exit 1; \
	done
	@for d in $(DOCS); do \
	    echo "install -m 644 $$d $(DESTDIR)$(DOCDIR)/$$d"; \
	    install -m 644 $$d $(DESTDIR)$(DOCDIR)/$$d || exit 1; \
	done
	install -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 contrib/systemd/porthole-guest.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 644 contrib/systemd/porthole-host.service \
	    $(DESTDIR)$(SYSTEMDUSERUNITDIR)/
	install -m 755 contrib/openrc/porthole-guest \
	    $(DESTDIR)$(SYSCONFDIR)/init.d/
	install -m 644 contrib/sysusers/porthole.conf $(DESTDIR)$(SYSUSERSDIR)/
	@# The worker's user, made now on this machine as a package's
	@# postinst would (not into a DESTDIR: its image's boot makes it).
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	    echo "systemd-sysusers $(SYSUSERSDIR)/porthole.conf"; \
	    systemd-sysusers $(SYSUSERSDIR)/porthole.conf; \
	fi

# Removes exactly what install put in place, and porthole's own
# directories once empty; the shared ones (bin, man8, ...) stay, and so
# does the user porthole, as a package's would: an id once given is not
# given again to whoever comes next.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BIN_PROGS))) \
	    $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(SBIN_PROGS))) \
	    $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(LIBEXEC_PROGS))) \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(DOCS)) \
	    $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLES))) \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/porthole-guest.service \
	    $(DESTDIR)$(SYSTEMDUSERUNITDIR)/porthole-host.service \
	    $(DESTDIR)$(SYSCONFDIR)/init.d/porthole-guest \
	    $(DESTDIR)$(SYSUSERSDIR)/porthole.conf
	@for m in $(notdir $(MANS)); do \
	    echo "rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m"; \
	    rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; \
	done
	-rmdir $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples \
	    $(DESTDIR)$(DOCDIR)

clean:
	rm -f $(PROGS) $(PROTO_OBJS) $(HOST_OBJS) $(GUEST_OBJS) $(CTL_OBJS) \
	    $(UNIT_TESTS) $(UNIT_TESTS:=.o) $(TEST_TOOLS) $(SCALE_TOOLS) \
	    $(FUZZ_TARGETS) \
	    $(CONTRIB_GEN) .flags .paths
