# ferry — build, test, demo, bench. `make help` lists the targets.
CC      ?= cc
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DATE    := $(shell git log -1 --format=%cd --date=format:%Y/%m/%d 2>/dev/null)
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wvla -Wno-unused-parameter
CPPFLAGS_ALL := -std=gnu11 -D_GNU_SOURCE -Isrc -I/usr/include/postgresql -DFERRY_VERSION='"$(VERSION)"' -DFERRY_DATE='"$(DATE)"'
LDLIBS  := -lpq -lpcre2-8 -lseccomp -lpthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
# files built into the binary (the dashboard page), as C arrays
GEN_OBJ      := build/obj/gen/ops/dashboard_html.o
GEN_ASAN_OBJ := build/asan/obj/gen/ops/dashboard_html.o
OBJ      := $(patsubst src/%.c,build/obj/%.o,$(SRC)) $(GEN_OBJ)
ASAN_OBJ := $(patsubst src/%.c,build/asan/obj/%.o,$(SRC)) $(GEN_ASAN_OBJ)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRC))
UNIT_ASAN:= $(patsubst tests/unit/%.c,build/asan/unit/%,$(UNIT_SRC))
LIB_OBJ      := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRC)) $(GEN_OBJ)
LIB_ASAN_OBJ := $(patsubst src/%.c,build/asan/obj/%.o,$(LIB_SRC)) $(GEN_ASAN_OBJ)

.PHONY: all asan unit deps test demo bench profile clean help check-style install acl-bench fuzz fuzz-build fuzz-smoke fuzz-seed  soak lint

all: build/ferry

help:
	@echo "make          build build/ferry"
	@echo "make demo     build, start 3 PostgreSQL servers and ferry in front"
	@echo "make test     install test dependencies, run unit + integration tests, also under ASan+UBSan"
	@echo "make lint     static analysis of src/: gcc -fanalyzer and cppcheck (use -j2; part of make test)"
	@echo "make bench    performance comparison (see bench/README.md)"
	@echo "make acl-bench ns per ACL lookup: 10 vs 100,000 networks, 10 vs 10,000 SNI names"
	@echo "make soak N   (or MINUTES=N; default 10): load through ferry while its servers fail, it reloads, it upgrades"
	@echo "make profile  where ferry's CPU time goes: perf and callgrind (see bench/README.md)"
	@echo "make install  the binary, the systemd unit and the man page (PREFIX=/usr/local, DESTDIR)"
	@echo "make fuzz     run each libFuzzer harness of fuzz/ for FUZZ_TIME seconds (600) with ASan+UBSan"

build/ferry: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

build/gen/ops/dashboard_html.c: src/ops/dashboard.html scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh dashboard_html $< > $@.tmp && mv $@.tmp $@

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -c -o $@ $<

build/asan/ferry: $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

build/asan/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -O1 -g $(SAN) $(WARN) -MMD -MP -c -o $@ $<

build/unit/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter -o $@ $^ -lcmocka $(LDLIBS)

build/asan/unit/%: tests/unit/%.c $(LIB_ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -O1 -g $(SAN) -Wall -Wextra -Werror -Wno-unused-parameter -o $@ $^ -lcmocka $(LDLIBS)

asan: build/asan/ferry
unit: $(UNIT_BIN)

# Installs what the build, tests and demo need (Debian packages), once.
deps:
	@scripts/deps.sh

# the builds of make test, one compiler per CPU
NPROC := $(shell nproc 2>/dev/null || echo 2)

test: deps
	@$(MAKE) -s --no-print-directory -j$(NPROC) all asan $(UNIT_BIN) $(UNIT_ASAN)
	@scripts/run-tests.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all build/acl_bench
	@bench/run.sh
	@echo "ACL lookups (make acl-bench):" && build/acl_bench

# Pattern lookups: ns per IP / SNI lookup for small and large lists (bench/acl_bench.c).
build/acl_bench: bench/acl_bench.c $(LIB_OBJ)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -o $@ $^ $(LDLIBS)

acl-bench: build/acl_bench
	@build/acl_bench

# Where ferry's CPU goes (perf record, callgrind); see bench/README.md.
profile: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh profile

# Mixed load through ferry while a fault loop kills, blackholes, stalls and
# resets its servers, reloads and upgrades it (root: a network namespace).
# "make soak 60" and "make soak MINUTES=60" both run it for an hour.
ifeq (soak,$(firstword $(MAKECMDGOALS)))
SOAK_ARG := $(filter-out soak,$(MAKECMDGOALS))
ifneq ($(SOAK_ARG),)
ifneq ($(shell echo '$(SOAK_ARG)' | grep -xE '[1-9][0-9]*'),)
MINUTES := $(SOAK_ARG)
$(SOAK_ARG): ; @:
else
$(error make soak: "$(SOAK_ARG)" is not a number of minutes)
endif
endif
endif
MINUTES ?= 10
soak: deps
	@$(MAKE) --no-print-directory all
	@/usr/bin/python3 bench/soak.py --minutes $(MINUTES)

# Static analysis (a stage of make test): gcc's -fanalyzer and cppcheck on
# every src/ file, one stamp per file (a file is analysed again when it or
# a header it includes changed). Either fails on any finding. False
# positives are suppressed at their line, saying why.
# LINT_DEPTH: the analyzer's analyzer-bb-explosion-factor (gcc's default
# is 5): 3 takes about half the time here and still found both real bugs
# that 5 found (only false positives went); "make lint LINT_DEPTH=5" looks
# deeper (src/ is clean at 5 too).
# -Wno-analyzer-malloc-leak: gcc 12's leak checker reported 29 leaks in
# src/, all false, of two kinds: "p = realloc(p, n); if (!p) abort();"
# (the old block is lost only on the path that aborts), and blocks stored
# into a structure reached through a pointer or an array index it does not
# follow (a list head, v[i] in a loop). Leaks are checked at run time
# instead: LeakSanitizer fails every ASan test run that leaks, and
# cppcheck's memleak checks stay on.
LINT_CC   ?= gcc
LINT_DEPTH ?= 3
LINT_GCC  := -O0 -fanalyzer -Wno-analyzer-malloc-leak --param=analyzer-bb-explosion-factor=$(LINT_DEPTH)
LINT_OK   := $(patsubst src/%.c,build/lint/%.ok,$(SRC))
CPPCHECK  := cppcheck -q --std=c11 --enable=warning,portability,performance --inline-suppr \
	     --error-exitcode=1 -D_GNU_SOURCE -Isrc \
	     --template='{file}:{line}: {severity}: {message} [{id}]'

lint: $(LINT_OK)

build/lint/%.ok: src/%.c
	@mkdir -p $(dir $@)
	$(LINT_CC) $(CPPFLAGS_ALL) $(LINT_GCC) $(WARN) -MMD -MP -MF $(@:.ok=.d) -MT $@ -c -o /dev/null $<
	$(CPPCHECK) $<
	@touch $@

PREFIX  ?= /usr/local
SBINDIR  = $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR   = $(PREFIX)/share/man/man8

install: build/ferry
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)
	install -m 755 build/ferry $(DESTDIR)$(SBINDIR)/ferry
	sed 's|@SBINDIR@|$(SBINDIR)|g' contrib/ferry.service.in > $(DESTDIR)$(UNITDIR)/ferry.service
	chmod 644 $(DESTDIR)$(UNITDIR)/ferry.service
	install -m 644 doc/ferry.8 $(DESTDIR)$(MANDIR)/ferry.8

# ---- fuzzing (fuzz/README.md) --------------------------------------------------
# One libFuzzer harness per parser of outside bytes, fuzz/<name>.c, built
# with clang and ASan+UBSan against the library compiled for coverage
# (libferry.a). `make fuzz` runs each for FUZZ_TIME seconds on its corpus
# fuzz/corpus/<name>/ (new inputs go to build/fuzz/new/<name>/, crashes to
# build/fuzz/crash/; `scripts/fuzz.sh merge` folds the new inputs into the
# kept corpus). `make fuzz-smoke` is the short run of `make test`: built
# at -O0 in a tree of its own (a third of the compile time; speed matters
# little for a few seconds), FUZZ_SMOKE_TIME seconds each (20), FUZZ_JOBS at a time (make test: one, beside the integration tests).
comma := ,
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 600
FUZZ_SMOKE_TIME ?= 20
FUZZ_JOBS    ?= 2
FUZZ_DIR     ?= build/fuzz
FUZZ_OPT     ?= -O1
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g $(FUZZ_OPT) $(FUZZ_SAN)
FUZZ_SRC     := $(wildcard fuzz/*.c)
FUZZ_NAMES   := $(patsubst fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_BIN     := $(patsubst %,$(FUZZ_DIR)/%,$(FUZZ_NAMES))
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRC)) $(FUZZ_DIR)/obj/gen/ops/dashboard_html.o
# the configuration reader must not resolve DNS names nor read devices (fuzz/config.c)
FUZZ_LDFLAGS_config := -Wl,--wrap=getaddrinfo -Wl,--wrap=fopen

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -c -o $@ $<

$(FUZZ_DIR)/libferry.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%: fuzz/%.c fuzz/fuzz.h $(FUZZ_DIR)/libferry.a
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(WARN) -MMD -MP -o $@ $< \
		$(FUZZ_DIR)/libferry.a $(FUZZ_LDFLAGS_$*) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) fuzz-build
	@scripts/fuzz.sh run $(FUZZ_DIR) $(FUZZ_TIME) $(FUZZ_JOBS) $(FUZZ_NAMES)

# Seeds: the unit tests that feed these parsers, linked with
# fuzz/seed/capture.c, write their inputs out (scripts/fuzz-seed.sh).
FUZZ_SEED_TESTS := test_proxyproto test_tls_hello test_pgwire test_fetch_pg test_dns test_agent \
		   test_cli test_parser test_acl test_httpchk test_logformat test_stktable test_lexer
FUZZ_WRAP := pp_parse tls_hello_parse pg_first_parse pg_scan_init pg_scan_feed dns_parse_response \
	     agent_apply cli_req_parse cfg_parse_text cfg_split

build/fuzz/seed/%: tests/unit/%.c fuzz/seed/capture.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter -o $@ $^ \
		$(patsubst %,-Wl$(comma)--wrap=%,$(FUZZ_WRAP)) -lcmocka $(LDLIBS)

fuzz-seed: $(patsubst %,build/fuzz/seed/%,$(FUZZ_SEED_TESTS)) fuzz-build
	@scripts/fuzz-seed.sh $(FUZZ_DIR) $(FUZZ_SEED_TESTS)

fuzz-smoke:
	@$(MAKE) -s --no-print-directory -j$(FUZZ_JOBS) FUZZ_DIR=build/fuzz-smoke FUZZ_OPT=-O0 fuzz-build
	@scripts/fuzz.sh smoke build/fuzz-smoke $(FUZZ_SMOKE_TIME) $(FUZZ_JOBS) $(FUZZ_NAMES)

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d) $(LINT_OK:.ok=.d)
