# mgr: one non-recursive Makefile. Libraries come from pkg-config; objects go in $(B)/.
PKGS    ?= yaml-0.1 libarchive libnl-3.0 libnl-route-3.0 libcap libseccomp jansson libcrypto
# Headers only: PID 1 opens libkmod with dlopen() (core/pid1.c), so no other mgr invocation
# pays for loading it and the libcrypto it pulls in.
PKGS_DLOPEN ?= libkmod
B       ?= build
ASAN_B  ?= $(B)-asan
PREFIX  ?= /usr/local
DESTDIR ?=
WERROR  ?= 1
CC      ?= cc
CFLAGS  ?= -O2 -g

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wno-unused-parameter -Wno-missing-field-initializers -Wno-format-truncation $(if $(filter 1,$(WERROR)),-Werror)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_DLOPEN) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Start-up time of every mgr invocation (mgr run, CLI calls): resolving ~7000 symbols over 25
# shared objects (libarchive pulls libxml2, ICU, libstdc++) cost ~2 ms of CPU, more than the
# rest of a container start. Libraries that have a static archive are linked into the mgr
# binary (only mgr; tests link as before). STATIC_LIBS=0 links everything dynamically.
# `pkg-config --static` names libarchive's own dependencies (nettle, lzma, bz2, z, xml2, icu):
# their -dev packages are in DEB_PKGS, as a fresh machine lacks them.
STATIC_LIBS ?= 1
# Archives are linked in this order, and their code lands in the binary in it: what the daemon
# runs all the time (yaml, netlink, caps, seccomp, jansson, libcrypto's sha256 for spec hashes)
# first, next to mgr's own code, so that it shares the kernel's 64 KiB fault-around windows;
# image-only libraries after it (libarchive uses nettle, not libcrypto).
STATIC_ORDER := yaml nl-route-3 nl-3 cap seccomp jansson crypto archive nettle acl lzma zstd lz4 \
                bz2 z xml2 icuuc icudata
STATIC_HAVE := $(foreach l,$(STATIC_ORDER),$(if $(wildcard /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/lib$(l).a),$(l)))
# glibc too (STATIC_LIBC=1, the default unless building with a sanitizer): the binary then maps
# no libc.so, of which the kernel's fault-around kept ~1.4 MiB resident in every mgr process
# although mgr uses a small part of it (the daemon's RSS: tests/bench/supervisor.sh), and no
# mgr start pays ld.so's loading and relocation. glibc warns at link time about the NSS calls
# (getaddrinfo, getprotobyname) in libnl functions mgr never calls, and about the dlopen() of
# libkmod in PID 1 (core/pid1.c): that one needs the host's glibc at run time, as it has.
# Only where every library has its static archive (else the link would fail):
STATIC_NEED := $(sort $(patsubst -l%,%,$(filter -l%,$(shell pkg-config --static --libs $(PKGS) 2>/dev/null))) stdc++ m)
STATIC_MISSING := $(strip $(foreach l,$(STATIC_NEED),$(if $(filter lib$(l).a,$(shell $(CC) -print-file-name=lib$(l).a)),$(l))))
STATIC_LIBC ?= $(if $(or $(findstring -fsanitize,$(CFLAGS) $(LDFLAGS)),$(STATIC_MISSING)),0,1)
comma := ,
MGR_LIBS := $(if $(filter 1,$(STATIC_LIBS)),-Wl$(comma)-Bstatic $(addprefix -l,$(STATIC_HAVE)) \
              $(if $(filter 1,$(STATIC_LIBC)),,-Wl$(comma)-Bdynamic) \
              $(filter-out $(addprefix -l,$(STATIC_HAVE)),$(shell pkg-config --static --libs $(PKGS) 2>/dev/null)) \
              -lstdc++ -lm,$(PKG_LIBS))
# The mgr binary's link (memory of the long-running daemon, tests/bench/supervisor.sh): a PIE
# carries ~19000 relative relocations for the static archives' pointer tables; packed as
# DT_RELR they take 6 KiB instead of 440 KiB of .rela.dyn, which ld.so read (and kept
# resident) in every mgr process. PIE=0 links a fixed-address binary: no relocated, dirtied
# .data.rel.ro either (~0.35 MiB less RSS for the daemon) but no ASLR for mgr's own code.
PIE ?= 1
MGR_LDFLAGS := $(if $(filter 1,$(PIE)),-Wl$(comma)-z$(comma)pack-relative-relocs,-no-pie) \
               $(if $(filter 1,$(STATIC_LIBS)),$(if $(filter 1,$(STATIC_LIBC)),$(if $(filter 1,$(PIE)),-static-pie,-static)))
ALL_CFLAGS  = -std=gnu11 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE \
              -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

CORE_SRC := $(sort $(wildcard core/*.c))
CMD_SRC  := $(sort $(wildcard cmd/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(B)/%.o)
CORE_LIB := $(B)/libmgrcore.a
MGR      := $(B)/mgr

UNIT_TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_TESTS    := $(UNIT_TEST_SRC:tests/unit/%.c=$(B)/tests/%)
# Static helper programs packed into test images (no distro needed inside the container).
PAYLOAD       := $(B)/tests/payload

DEB_PKGS := build-essential pkg-config libyaml-dev libarchive-dev libnl-3-dev libnl-route-3-dev \
            libseccomp-dev libcap-dev libjansson-dev libssl-dev libkmod-dev libzstd-dev liblz4-dev libacl1-dev \
            busybox-static iproute2 iputils-ping libarchive-tools crun umoci skopeo debootstrap \
            iperf3 jq cpio qemu-system-x86 linux-image-amd64 clang libclang-rt-14-dev \
            python3 python3-yaml python3-jsonschema kmod procps psmisc netcat-openbsd curl \
            hyperfine bc zstd xz-utils \
            nettle-dev liblzma-dev libbz2-dev zlib1g-dev libxml2-dev libicu-dev

.PHONY: hello all deps test check-unit check-integration check-vm asan fuzz bench install clean \
        format format-check payload man
all: $(MGR)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Objects are linked in this order, which is their code's order in the binary: what the
# long-running daemon runs first, so that it fills few of the kernel's 64 KiB fault-around
# windows (~150 KiB less resident in it), then what other commands and container children run.
MGR_COLD := $(addprefix $(B)/core/,image.o image_extract.o image_pure.o pid1.o rootfs.o userns.o)
MGR_HOT_CMD := $(addprefix $(B)/cmd/,mgr.o opts.o cmd_daemon.o)
MGR_OBJ := $(filter-out $(MGR_COLD),$(CORE_OBJ)) $(MGR_HOT_CMD) $(filter $(CORE_OBJ),$(MGR_COLD)) \
           $(filter-out $(MGR_HOT_CMD),$(CMD_OBJ))
$(MGR): $(MGR_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(MGR_LDFLAGS) -o $@ $(MGR_OBJ) $(MGR_LIBS)

$(B)/tests/test_%: tests/unit/test_%.c tests/unit/harness.h $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Icore -o $@ $< $(CORE_LIB) $(PKG_LIBS)

$(PAYLOAD): tests/integration/payload.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -static -Wall -o $@ $<
payload: $(PAYLOAD)

# Static helper of the security tests (tests/integration/30-security*.sh), packed into rootfs.
SECTEST := $(B)/tests/sectest
$(SECTEST): tests/integration/sectest.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -static -Wall -o $@ $<

# The main job: install mgr, build the busybox image, bring up examples/hello (as root).
hello: all
	$(MAKE) install
	MGR=$(DESTDIR)$(PREFIX)/bin/mgr examples/hello/setup.sh

# Installs every build and test dependency on a fresh Debian 12 (as root).
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS)

# The whole suite: unit tests (also under ASan/UBSan), integration tests as root, the VM test.
# Ends with one line "N passed, N failed, N skipped"; exits non-zero on any failure.
test: all $(UNIT_TESTS) $(if $(wildcard tests/integration/payload.c),$(PAYLOAD)) $(SECTEST)
	$(MAKE) B=$(ASAN_B) WERROR=$(WERROR) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined" asan-build
	B=$(B) ASAN_B=$(ASAN_B) tests/run.sh all

check-unit: $(UNIT_TESTS) $(SECTEST)
	B=$(B) tests/run.sh unit

# The integration scripts also link their C drivers (netdrv, cgdrv, rtexec) against $(CORE_LIB).
check-integration: all $(CORE_LIB) $(if $(wildcard tests/integration/payload.c),$(PAYLOAD)) $(SECTEST)
	B=$(B) tests/run.sh integration

check-vm: all
	B=$(B) tests/run.sh vm

asan-build: all $(UNIT_TESTS) $(SECTEST)
asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined" asan-build
	B=build-asan tests/run.sh unit

# Bounded fuzzing of the unit parser with libFuzzer (clang from Debian).
FUZZ_SECONDS ?= 60
FUZZ_OBJ := $(patsubst %.c,build-fuzz/%.o,$(filter-out core/unit_load.c,$(wildcard core/unit*.c)) core/yaml_load.c core/util.c core/log.c core/err.c)
fuzz:
	@mkdir -p build-fuzz/corpus
	$(MAKE) B=build-fuzz CC=clang WERROR=0 CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_OBJ)
	clang -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Icore \
	    -o build-fuzz/fuzz_unit tests/fuzz/fuzz_unit.c $(FUZZ_OBJ) $(PKG_LIBS)
	build-fuzz/fuzz_unit -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus tests/fuzz/corpus

bench: all $(if $(wildcard tests/integration/payload.c),$(PAYLOAD))
	B=$(B) tests/bench/run.sh

install: all
	install -D -m 0755 $(MGR) $(DESTDIR)$(PREFIX)/bin/mgr
	for m in $(wildcard doc/*.1 doc/*.5 doc/*.8); do \
	    s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/$$(basename $$m); done
	install -d $(DESTDIR)/etc/units.d
	for u in $(wildcard units/*.yaml); do install -D -m 0644 $$u $(DESTDIR)$(PREFIX)/share/mgr/units/$$(basename $$u); done
	$(if $(wildcard units/schema.json),install -D -m 0644 units/schema.json $(DESTDIR)$(PREFIX)/share/mgr/schema.json)
	$(if $(wildcard units/mgr.service),install -D -m 0644 units/mgr.service $(DESTDIR)/etc/systemd/system/mgr.service)
	$(if $(wildcard contrib/mgr.bash-completion),install -D -m 0644 contrib/mgr.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mgr)

# Man pages are generated from doc/*.md with pandoc (not a build dependency: the roff output
# is committed so `man ./doc/mgr.1` works from a checkout).
man:
	doc/gen-man.sh

format:
	clang-format -i $(CORE_SRC) $(CMD_SRC) $(wildcard core/*.h cmd/*.h)
format-check:
	clang-format --dry-run -Werror $(CORE_SRC) $(CMD_SRC) $(wildcard core/*.h cmd/*.h)

clean:
	rm -rf build build-asan build-fuzz

-include $(CORE_OBJ:.o=.d) $(CMD_OBJ:.o=.d)
