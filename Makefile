# porthole: a plain Makefile.  `make check` and `make demo` install the
# Debian packages they need first (mk/deps.sh).

PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/bin
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
DESTDIR ?=

CC ?=		cc
PKG_CONFIG ?=	pkg-config
PKGS =		libevent libbsd-overlay libmnl

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
	proto/buf.c \
	proto/endpoint.c \
	proto/frameio.c \
	proto/log.c \
	proto/proto.c \
	proto/relay.c \
	proto/xmalloc.c
HOST_SRCS = \
	host-agent/conn.c \
	host-agent/forward.c \
	host-agent/host.c \
	host-agent/limits.c \
	host-agent/listener.c \
	host-agent/policy.c \
	host-agent/session.c
GUEST_SRCS = \
	guest-agent/daemon.c \
	guest-agent/dial.c \
	guest-agent/guest.c \
	guest-agent/notify.c \
	guest-agent/proc.c \
	guest-agent/gsession.c \
	guest-agent/watch.c

PROTO_OBJS =	$(PROTO_SRCS:.c=.o)
HOST_OBJS =	$(HOST_SRCS:.c=.o)
GUEST_OBJS =	$(GUEST_SRCS:.c=.o)
# The host agent's objects other than main(), for unit tests.
HOST_LIB_OBJS =	$(filter-out host-agent/host.o,$(HOST_OBJS))

UNIT_TESTS = \
	tests/check_buf \
	tests/check_proto \
	tests/check_endpoint \
	tests/check_policy \
	tests/check_forward \
	tests/check_relay \
	tests/check_notify
TEST_TOOLS = \
	tests/tools/phtest \
	tests/tools/phstorm

PROGS = \
	host-agent/porthole-host \
	guest-agent/porthole-guest
MANS = \
	docs/porthole-host.8 \
	docs/porthole-guest.8

.SECONDARY: $(UNIT_TESTS:=.o)

.PHONY: all check check-unit check-e2e demo install uninstall clean fuzz deps

all: $(PROGS)

# Objects are rebuilt when the flags change (a SANITIZE=1 build, say).
.flags: FORCE
	@echo '$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS)' > $@
FORCE:

%.o: %.c .flags $(wildcard proto/*.h) $(wildcard host-agent/*.h) \
    $(wildcard guest-agent/*.h)
	$(CC) $(CFLAGS) $(PH_CFLAGS) -c -o $@ $<

host-agent/porthole-host: $(HOST_OBJS) $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PH_LIBS)

guest-agent/porthole-guest: $(GUEST_OBJS) $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PH_LIBS)

tests/check_%.o: tests/check_%.c .flags
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Ihost-agent -c -o $@ $<

tests/check_%: tests/check_%.o $(PROTO_OBJS) $(HOST_LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

# The guest agent's readiness notification, alone (no host objects).
tests/check_notify.o: tests/check_notify.c .flags guest-agent/guest.h
	$(CC) $(CFLAGS) $(PH_CFLAGS) -Iguest-agent -c -o $@ $<

tests/check_notify: tests/check_notify.o guest-agent/notify.o \
    guest-agent/daemon.o $(PROTO_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PH_LIBS)

tests/tools/%: tests/tools/%.c .flags
	$(CC) $(CFLAGS) $(PH_CFLAGS) $(LDFLAGS) -o $@ $< $(PH_LIBS)

deps:
	@mk/deps.sh build

# Recursive, so that pkg-config runs after the packages are installed.
check:
	@mk/deps.sh check
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_TOOLS)
	@$(MAKE) --no-print-directory check-unit check-e2e

check-unit: $(UNIT_TESTS)
	@tests/run-unit $(UNIT_TESTS)

check-e2e: $(PROGS) $(TEST_TOOLS)
	@tests/run-e2e

demo:
	@mk/deps.sh demo
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

FUZZ_TARGETS = \
	tests/fuzz/fuzz_frame \
	tests/fuzz/fuzz_endpoint
FUZZ_CFLAGS =	-g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
		-D_GNU_SOURCE -Iproto $(shell $(PKG_CONFIG) --cflags libbsd-overlay)
FUZZ_SECONDS ?=	20

tests/fuzz/fuzz_frame: tests/fuzz/fuzz_frame.c proto/proto.c proto/buf.c \
    proto/addr.c
	clang $(FUZZ_CFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

tests/fuzz/fuzz_endpoint: tests/fuzz/fuzz_endpoint.c proto/endpoint.c
	clang $(FUZZ_CFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libbsd-overlay)

fuzz:
	@mk/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    n=$$(basename $$t); mkdir -p tests/fuzz/corpus/$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        tests/fuzz/corpus/$$n tests/fuzz/seeds/$$n 2>&1 | \
	        grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 host-agent/porthole-host $(DESTDIR)$(BINDIR)/
	install -m 755 guest-agent/porthole-guest $(DESTDIR)$(SBINDIR)/
	install -m 644 $(MANS) $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/porthole-host \
	    $(DESTDIR)$(SBINDIR)/porthole-guest \
	    $(DESTDIR)$(MANDIR)/man8/porthole-host.8 \
	    $(DESTDIR)$(MANDIR)/man8/porthole-guest.8

clean:
	rm -f $(PROGS) $(PROTO_OBJS) $(HOST_OBJS) $(GUEST_OBJS) \
	    $(UNIT_TESTS) $(UNIT_TESTS:=.o) $(TEST_TOOLS) $(FUZZ_TARGETS) .flags
