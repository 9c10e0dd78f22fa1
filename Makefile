# Alexus: one GNU Makefile for the library, the three daemons, the admin
# tool and the tests.  Sources are found by wildcard so adding a file never
# needs a Makefile edit; dependencies come only through pkg-config.
#
#   make            build bin/ (warnings are errors)
#   make asan       the same with AddressSanitizer + UBSan, in build-asan/
#   make test       install what is missing, build, run every test
#   make run        install, build, start the local stack, print a first curl

# openssl: common/bolt.c (the Neo4j graph backend's Bolt client, TLS) is in
# libalexus.a and reaches the daemons through graph_neo4j.c.
PKGS      := libevent libevent_pthreads hiredis libpq libcurl libcjson libjwt libsodium yaml-0.1 \
             openssl
BUILD     ?= build
BIN       ?= bin
CC        ?= cc
SANITIZE  ?=

WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes \
             -Wmissing-prototypes -Wpointer-arith -Wwrite-strings -Wno-missing-field-initializers
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -Icommon -MMD -MP \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
# The test receiver's TLS mode (bufferevent_openssl): test binaries only.
TEST_LDLIBS := $(shell pkg-config --libs libevent_openssl openssl 2>/dev/null)

# ingest allocates a little for every request on several threads at once;
# jemalloc (the allocator Redis ships with) took about a tenth off its CPU
# per request next to glibc's malloc in bench-ingest's workload.  Sanitizer
# builds keep the default so ASan sees every allocation.
INGEST_LDLIBS := $(shell pkg-config --libs jemalloc 2>/dev/null)

ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZE)
INGEST_LDLIBS :=
endif

LIB_SRC    := $(wildcard common/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libalexus.a

INGEST_SRC := $(wildcard ingest/*.c ingest/*/*.c)
REASON_SRC := $(wildcard reason/*.c reason/*/*.c)
ACT_SRC    := $(wildcard act/*.c act/*/*.c)
CTL_SRC    := $(wildcard common/ctl/*.c)

# Each daemon's main.c is left out of its test archive so unit tests can
# link a daemon's internals without its main().
INGEST_LIB := $(BUILD)/libingest.a
REASON_LIB := $(BUILD)/libreason.a
ACT_LIB    := $(BUILD)/libact.a

DAEMONS    := $(BIN)/alexus-ingest $(BIN)/alexus-reason $(BIN)/alexus-act $(BIN)/alexusctl

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/t/%)
INTEG_SRC  := $(wildcard tests/integration/itest_*.c)
INTEG_BIN  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/t/%)
TESTLIB_SRC:= $(wildcard tests/lib/*.c)
TESTLIB_OBJ:= $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
TOOLS_SRC  := $(wildcard tests/tools/*.c)
TOOLS_BIN  := $(TOOLS_SRC:tests/tools/%.c=$(BIN)/%)
BENCH_SRC  := $(wildcard tests/bench/bench_*.c)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all asan test run stop clean
# Keep objects that pattern chains would otherwise delete as intermediates.
.SECONDARY:
all: $(DAEMONS) $(UNIT_BIN) $(INTEG_BIN) $(TOOLS_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: ALL_CFLAGS += -Itests/lib $(shell pkg-config --cflags libevent_openssl openssl 2>/dev/null)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The dashboard's files are assembled into web.o (.incbin), which the
# compiler's dependency list cannot see.
$(BUILD)/ingest/web.o: $(wildcard ingest/web/*)
$(INGEST_LIB): $(filter-out $(BUILD)/ingest/main.o,$(INGEST_SRC:%.c=$(BUILD)/%.o))
	$(AR) rcs $@ $^
$(REASON_LIB): $(filter-out $(BUILD)/reason/main.o,$(REASON_SRC:%.c=$(BUILD)/%.o))
	$(AR) rcs $@ $^
$(ACT_LIB): $(filter-out $(BUILD)/act/main.o,$(ACT_SRC:%.c=$(BUILD)/%.o))
	$(AR) rcs $@ $^

$(BIN)/alexus-ingest: $(BUILD)/ingest/main.o $(INGEST_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(INGEST_LDLIBS)
$(BIN)/alexus-reason: $(BUILD)/reason/main.o $(REASON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/alexus-act: $(BUILD)/act/main.o $(ACT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/alexusctl: $(CTL_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every daemon archive and the in-process receiver: the
# linker takes only what a test uses.
$(BUILD)/t/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/lib/receiver.o $(INGEST_LIB) $(REASON_LIB) \
	      $(ACT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS) -lcmocka
$(BUILD)/t/%: $(BUILD)/tests/integration/%.o $(TESTLIB_OBJ) $(REASON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS) -lcmocka
# The Bolt client's tests and tools (issue 8) link the scripted Bolt peer
# and PackStream notation of tests/lib/boltpeer.c; static pattern rules,
# so they win over the generic ones above.
BOLT_UNIT  := $(BUILD)/t/test_bolt $(BUILD)/t/test_bolt_pool $(BUILD)/t/test_bolt_async \
	      $(BUILD)/t/test_packstream $(BUILD)/t/test_graph_neo4j
BOLT_TOOLS := $(BIN)/bolt_peer $(BIN)/bolt_pscheck
$(BOLT_UNIT): $(BUILD)/t/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/lib/boltpeer.o \
	     $(BUILD)/tests/lib/receiver.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS) -lcmocka
$(BOLT_TOOLS): $(BIN)/%: $(BUILD)/tests/tools/%.o $(BUILD)/tests/lib/boltpeer.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)
# Benchmark programs (run by scripts/bench-*, never by tests/run) may use
# a daemon's internals, like the unit tests.
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(INGEST_LIB) $(REASON_LIB) $(ACT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/bin SANITIZE=address,undefined,float-cast-overflow CFLAGS="-O1 -g" all

# make fuzz: every tests/fuzz/fuzz_*.c is a libFuzzer harness, linked by
# clang into build-fuzz/fuzz/ over the library and ingest compiled with
# -fsanitize=fuzzer-no-link,address,undefined, then run by scripts/fuzz
# (FUZZ_SECONDS per source, FUZZ_NORMALIZE_SECONDS; see the script).
# make fuzz-short is the CI pass; fuzz-bins is fuzz-build's inner step.
# Warnings are shown but not errors here: the gcc build is the -Werror
# gate, and a clang-only warning must not stop a fuzzing run.
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz fuzz-short fuzz-build fuzz-bins
fuzz-build:
	$(MAKE) BUILD=build-fuzz BIN=build-fuzz/bin CC=clang \
		SANITIZE=fuzzer-no-link,address,undefined CFLAGS="-O1 -g -Wno-error" fuzz-bins
fuzz-bins: $(FUZZ_BIN)
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(INGEST_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz fuzz-short: fuzz-build $(BIN)/alexus-ingest
	scripts/fuzz $(if $(filter fuzz-short,$@),--short)

# The two commands of the README.  Both install what is missing first.
test:
	scripts/setup
	$(MAKE) all
	$(MAKE) asan
	tests/run

run:
	scripts/setup
	$(MAKE) all
	scripts/stack up
	scripts/demo

stop:
	scripts/stack down

# The ingest benchmark (alexus-ingest next to Prometheus Alertmanager, on
# servers it starts itself; knobs at the top of the script).  Figures:
# docs/benchmarks.md.
.PHONY: bench-ingest bench-store bench-reason bench-latency
bench-ingest: all
	scripts/bench-ingest

# The data-layer benchmark: alerts and incident updates persisted through
# row-level security, and hybrid search over the knowledge graph, on a
# stack of its own.  Figures: docs/benchmarks.md.
bench-store: all
	scripts/bench-store

# One reason worker: an alert storm from the stream to committed rows.
bench-reason: all
	scripts/bench-store reason

# Webhook to committed incident row at a steady 1,000 alerts/s (and 2,000,
# 5,000): the real alexus-ingest and one alexus-reason on that stack.
bench-latency: all
	scripts/bench-store latency

# The heuristic investigation over the labelled incident scenarios of
# tests/fixtures/eval, held to the issue's targets (category >= 85 %, first
# action >= 70 %).  Figures: docs/benchmarks.md.
.PHONY: eval
eval: all
	scripts/eval

clean:
	rm -rf build build-asan build-fuzz bin

-include $(shell find $(BUILD) build-asan -name '*.d' 2>/dev/null)
