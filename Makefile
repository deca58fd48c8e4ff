# berth — one GNU Makefile. `make` builds build/berth; `make check` installs
# what is missing, builds, and runs every test tier; see README.md.

CC       ?= gcc
BUILD    ?= build
PKGS_LIB  = jansson libcrypto libcurl libarchive libmicrohttpd sqlite3 zlib libzstd libseccomp libsodium yaml-0.1
DEPS_APT  = gcc make pkg-config libc6-dev libjansson-dev libssl-dev jq clang-format \
            libcurl4-openssl-dev libarchive-dev libsqlite3-dev zlib1g-dev libzstd-dev \
            libmicrohttpd-dev docker-registry apache2-utils skopeo umoci busybox-static attr \
            libseccomp-dev libsodium-dev runc crun libyaml-dev python3 sqlite3 debootstrap \
            libhttp-parser-dev
FUZZ_APT  = clang libclang-rt-14-dev

WARN   = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
         -Wmissing-prototypes -Wvla -Wpointer-arith -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -Itests -include src/common/banned.h \
             $(shell pkg-config --cflags $(PKGS_LIB) 2>/dev/null)
# libcurl and libarchive are loaded on first use (src/common/dl.h): they
# are not linked into berth, only into the tests and tools that call them.
PKGS_DL   = libcurl libarchive libmicrohttpd libcrypto libsodium yaml-0.1
LDLIBS = $(shell pkg-config --libs $(filter-out $(PKGS_DL),$(PKGS_LIB)) 2>/dev/null) -lpthread -ldl
LDLIBS_DL = $(shell pkg-config --libs $(PKGS_DL) 2>/dev/null)

ifneq ($(SANITIZE),)
BUILD := build/san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

MODULES  = common dockerfile image registry runtime secrets build app lint server base
LIB_SRC  = $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  = $(wildcard src/cli/*.c)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
TEST_BIN = $(UNIT_BIN) $(BUILD)/tests/run-conformance $(FUZZ_REPLAY) $(TOOL_BIN)

# Keep test objects: they are not throw-away intermediates.
.SECONDARY:

.PHONY: all deps check check-san check-slow test demo bench fuzz reliability format format-check clean
all: $(BUILD)/berth

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libberth.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/berth: $(CLI_OBJ) $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(LDLIBS_DL)

CONF_SRC = $(wildcard tests/conformance/*.c)
$(BUILD)/tests/run-conformance: $(CONF_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fuzz targets linked with a plain replay driver: `make check` runs the
# committed corpus through them without needing clang.
$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay_main.o $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test tools (token server, corrupting proxy, ...): libberth + libmicrohttpd.
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(LDLIBS_DL) $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

$(BUILD)/bench/parse_bench: $(BUILD)/bench/parse_bench.o $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/nsexec: $(BUILD)/bench/nsexec.o
	$(CC) $(LDFLAGS) -o $@ $^

# Install the Debian packages berth needs; does nothing when all are present.
deps:
	@./scripts/install-deps.sh $(DEPS_APT)

test: all $(TEST_BIN)
	@BUILD=$(BUILD) ./tests/run-all.sh

check: deps
	@$(MAKE) -s --no-print-directory format-check
	@echo "build: berth, tests, and the ASan+UBSan build (make check, -Werror)"
	@$(MAKE) -s --no-print-directory all $(TEST_BIN)
	@$(MAKE) -s --no-print-directory SANITIZE=address,undefined $(patsubst $(BUILD)/%,build/san/%,$(TEST_BIN)) build/san/berth
	@BUILD=$(BUILD) SAN_BUILD=build/san ./tests/run-all.sh

# `make demo`: examples/text-to-image built, deployed on `berth serve` and
# called (scripts/demo.sh). State in build/demo/home, kept between runs: the
# base image (debootstrap) and the build cache; rm -rf build/demo starts over.
DEMO_APT = curl
demo: deps all
	@./scripts/install-deps.sh $(DEMO_APT)
	@./scripts/demo.sh $(BUILD)/berth

# The slow tier, not part of `make check`: the demo end to end in a fresh
# state directory (tests/slow/) and the debian base images (base_cli.sh with
# BERTH_SLOW=1). Needs root and the Debian mirror (each SKIPs without them).
check-slow: deps all
	@./scripts/install-deps.sh $(DEMO_APT)
	@mkdir -p $(BUILD)/test-logs; failed=""; for s in tests/slow/*.sh tests/e2e/base_cli.sh; do \
		log=$(BUILD)/test-logs/slow_$$(basename $$s .sh).log; \
		BERTH=$(CURDIR)/$(BUILD)/berth BERTH_SLOW=1 bash $$s >$$log 2>&1 || failed="$$failed $$s"; \
		printf '%-32s %4d passed, %d failed\n' $$s $$(grep -c '^ok ' $$log) $$(grep -c '^not ok' $$log); \
		grep -E -A4 '^not ok|# SKIP' $$log | sed 's/^/    /'; \
	done; \
	if [ -n "$$failed" ]; then echo "check-slow: FAILED:$$failed (logs: $(BUILD)/test-logs/slow_*.log)"; exit 1; fi; \
	echo "check-slow: ok"

bench: all $(BUILD)/bench/parse_bench $(BUILD)/bench/nsexec
	@BUILD=$(BUILD) ./bench/report

# libFuzzer builds (clang): `make fuzz [T=name] [FUZZ_SECONDS=N] [FUZZ_MERGE=1]`.
# Without T every target runs in turn, N seconds each. The library is built
# once with clang (build/fuzz/src/...), each target linked against it; new
# inputs go to build/fuzz/corpus_<t>, crashes to build/fuzz/crash-<t>-*.
# FUZZ_MERGE=1 then adds the fewest inputs that reach new edges to the committed
# corpus tests/fuzz/corpus/<t>. Fails when a target crashed.
FUZZ_DIR     = build/fuzz
FUZZ_CFLAGS  = -std=gnu17 -D_GNU_SOURCE -g -O1 -Isrc -Itests -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
               $(shell pkg-config --cflags $(PKGS_LIB) 2>/dev/null)
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_TARGETS = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_SECONDS ?= $(or $(SECONDS),60)
T ?=
$(FUZZ_DIR)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_DIR)/libberth.a: $(FUZZ_LIB_OBJ)
	@rm -f $@ && ar rcs $@ $^ && echo "ar $@"
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libberth.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libberth.a $(LDLIBS)
fuzz:
	@./scripts/install-deps.sh $(FUZZ_APT)
	@$(MAKE) --no-print-directory $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(or $(T),$(FUZZ_TARGETS)))
	@failed=""; for t in $(or $(T),$(FUZZ_TARGETS)); do \
		mkdir -p $(FUZZ_DIR)/corpus_$$t tests/fuzz/corpus/$$t; \
		dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=3072 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash-$$t- $$dict \
			$(FUZZ_DIR)/corpus_$$t tests/fuzz/corpus/$$t >$(FUZZ_DIR)/$$t.log 2>&1 \
			|| failed="$$failed $$t"; \
		grep -E '^(#[0-9]+.*(DONE|pulse)|stat::(number_of_executed_units|new_units_added|peak_rss_mb))' \
			$(FUZZ_DIR)/$$t.log | tail -4 | sed 's/^/    /'; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t.log | tail -1); \
		new=$$(sed -n 's/^stat::new_units_added: *//p' $(FUZZ_DIR)/$$t.log | tail -1); \
		case " $$failed " in *" $$t "*) res="crashed (see $(FUZZ_DIR)/crash-$$t-*)";; *) res="no crash";; esac; \
		{ grep -v "^$$t	" tests/fuzz/campaign.tsv 2>/dev/null; \
		  printf '%s\t%s\t%s\t%s\t%s\t%s\n' $$t "$$(date -u +%Y-%m-%d)" $(FUZZ_SECONDS) "$${execs:-0}" \
			"$${new:-0}" "$$res"; } | sort >$(FUZZ_DIR)/campaign.tsv; \
		cp $(FUZZ_DIR)/campaign.tsv tests/fuzz/campaign.tsv; \
		if [ "$(FUZZ_MERGE)" = 1 ]; then \
			$(FUZZ_DIR)/fuzz_$$t -set_cover_merge=1 -use_counters=0 $$dict tests/fuzz/corpus/$$t $(FUZZ_DIR)/corpus_$$t \
				>>$(FUZZ_DIR)/$$t.log 2>&1 || failed="$$failed $$t(merge)"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: FAILED:$$failed (see $(FUZZ_DIR)/<target>.log and $(FUZZ_DIR)/crash-*)"; exit 1; \
	fi; echo "fuzz: no crash"

# Faults, loads and attacks (tests/reliability/*.sh) and the fuzz replays;
# writes docs/reliability.md. About ten minutes; root for most of it.
reliability: all $(TEST_BIN)
	@BUILD=$(BUILD) ./scripts/reliability.sh

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

clean:
	rm -rf build

# Only the compiler's dependency files (build/ also holds state dirs, e.g. build/demo).
-include $(shell find build/src build/tests build/bench build/san build/fuzz/src -name '*.d' -type f 2>/dev/null)
