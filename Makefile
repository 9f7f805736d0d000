# Tally -- build, test, demo.
#
#   make deps                 install the Debian (and npm) packages we need
#   make build                build/ngx_http_tally_module.so and build/tallyd
#   make test                 build, then every C unit test and the pytest suite
#   make test SANITIZE=address  the same with tallyd and the unit tests
#                             instrumented (output in build/address/)
#   make fuzz FUZZ_SECONDS=N  run every libFuzzer target for N seconds each
#   make demo                 NGINX + module on :8080, tallyd on :8089
#
# Plain C objects go to $(OUT)/obj; the NGINX module is always built
# uninstrumented by NGINX's own build system in build/nginx/.

SHELL := /bin/bash
.DEFAULT_GOAL := build

SANITIZE ?=
FUZZ_SECONDS ?= 10
PYTEST ?= /usr/bin/python3 -m pytest
PYTEST_ARGS ?=

ifeq ($(SANITIZE),)
OUT := build
SANFLAGS :=
else
OUT := build/$(SANITIZE)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CC ?= cc
CFLAGS ?= -O3 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -I. $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS := -lsqlite3 -ljansson -lmicrohttpd -lsodium -lpcre2-8 -lhiredis -lz -lpthread -lm

SPOOL_SRCS   := $(wildcard spool/*.c)
VISITOR_SRCS := $(wildcard visitor/*.c)
# the module's plain-C parts: everything in ngx_module/ without NGINX types
BEACON_SRCS  := $(filter-out ngx_module/ngx_http_%,$(wildcard ngx_module/*.c))
AGG_SRCS     := $(filter-out aggregator/main.c,$(wildcard aggregator/*.c))
# bot patterns: crawler-user-agents (npm) compiled into C at build time
BOTS_JSON    := node_modules/crawler-user-agents/crawler-user-agents.json
BOTS_GEN     := build/gen/bot_patterns.c
BOTS_SRCS    := $(wildcard bots/*.c) $(BOTS_GEN)
LIB_SRCS     := $(SPOOL_SRCS) $(VISITOR_SRCS) $(BEACON_SRCS) $(AGG_SRCS) $(BOTS_SRCS)
LIB_OBJS     := $(LIB_SRCS:%.c=$(OUT)/obj/%.o)
HEADERS      := $(wildcard */*.h) $(wildcard tests/*/*.h) tests/check.h

TEST_SRCS    := $(wildcard tests/*/test_*.c)
TEST_BINS    := $(TEST_SRCS:%.c=$(OUT)/%)

FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

NGX_SRC      := /usr/share/nginx/src
NGX_BUILD    := build/nginx
MODULE_SO    := build/ngx_http_tally_module.so
MODULE_SRCS  := config $(wildcard ngx_module/*) $(SPOOL_SRCS) $(VISITOR_SRCS) \
                spool/spool.h visitor/visitor.h $(BOTS_SRCS) $(wildcard bots/*.h)

NODE_MODULES ?= node_modules
DATA := build/data/uap.json build/data/referers.json

.PHONY: all build deps test unit jstest pytest chaos fuzz fuzz-build fuzz-smoke demo clean
all: build

build: $(MODULE_SO) $(OUT)/tallyd $(DATA) build/dashboard/app.js build/tally.js \
       $(OUT)/gen-spool

# realistic spool generator for tests and bench/drain
$(OUT)/gen-spool: tools/gen-spool.c $(OUT)/libspool.a spool/spool.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(OUT)/libspool.a -lm

# column-block sizes and decode speed on a real database (not part of
# build): make build/colblock-measure && build/colblock-measure DB
$(OUT)/colblock-measure: tools/colblock-measure.c $(OUT)/libagg.a \
                         $(OUT)/libspool.a $(HEADERS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(OUT)/libagg.a $(OUT)/libspool.a \
	    -lsqlite3 -lpthread

# the browser tracker, with its 1.5 KB gzip budget enforced by the build
build/tally.js: $(wildcard tracker/src/*.js) tracker/build.mjs package-lock.json
	node tracker/build.mjs

# the dashboard tallyd serves: vanilla JS + uPlot, bundled by esbuild
build/dashboard/app.js: $(wildcard dashboard/*.* dashboard/src/*.js dashboard/src/views/*.js) package-lock.json
	node dashboard/build.mjs

# enrichment data: uap-core and Snowplow referer data (npm) as compact JSON
# that tallyd loads at start (DATA is defined at the top)
build/data/uap.json: tools/gen-data.mjs package-lock.json
	node tools/gen-data.mjs --node-modules $(NODE_MODULES) --out build/data
build/data/referers.json: build/data/uap.json

# ---- plain C ---------------------------------------------------------------

$(OUT)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# One archive per directory, so a test links only what it tests:
# tests/spool -> spool; tests/visitor -> visitor; tests/ngx_module -> the
# module's plain-C parts + spool + visitor; tests/aggregator -> everything.
$(OUT)/libspool.a: $(SPOOL_SRCS:%.c=$(OUT)/obj/%.o)
$(OUT)/libvisitor.a: $(VISITOR_SRCS:%.c=$(OUT)/obj/%.o)
$(OUT)/libbeacon.a: $(BEACON_SRCS:%.c=$(OUT)/obj/%.o)
$(OUT)/libagg.a: $(AGG_SRCS:%.c=$(OUT)/obj/%.o)
$(OUT)/libbots.a: $(BOTS_SRCS:%.c=$(OUT)/obj/%.o)
$(OUT)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

LIBS_spool      := $(OUT)/libspool.a
LIBS_visitor    := $(OUT)/libvisitor.a
LIBS_bots       := $(OUT)/libbots.a
LIBS_ngx_module := $(OUT)/libbeacon.a $(OUT)/libspool.a $(OUT)/libvisitor.a \
                   $(OUT)/libbots.a
LIBS_aggregator := $(OUT)/libagg.a $(OUT)/libspool.a $(OUT)/libvisitor.a \
                   $(OUT)/libbots.a

$(OUT)/tallyd: $(OUT)/obj/aggregator/main.o $(LIBS_aggregator)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.SECONDEXPANSION:
$(OUT)/tests/%: tests/%.c $$(LIBS_$$(firstword $$(subst /, ,$$*))) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS_$(firstword $(subst /, ,$*))) $(LDLIBS)

$(BOTS_GEN): tools/gen-bots.mjs $(BOTS_JSON)
	@mkdir -p $(dir $@)
	node tools/gen-bots.mjs $(BOTS_JSON) $@

$(BOTS_JSON):
	@echo "$@ missing: run 'make deps' (npm ci)" >&2; exit 1

# ---- the NGINX module, built by NGINX's own build system -------------------
# Debian's nginx-dev ships configure and headers; configure runs in a private
# copy so the system tree stays untouched.  The full conf_flags give the
# module the same binary signature as /usr/sbin/nginx.

# re-run configure when the list of module source files changes
NGX_FILES := $(sort $(wildcard ngx_module/*.c spool/*.c visitor/*.c bots/*.c))
ifeq ($(filter install uninstall,$(MAKECMDGOALS)),)
$(shell mkdir -p build; echo "$(NGX_FILES)" | cmp -s - build/ngx-files.list \
        || echo "$(NGX_FILES)" > build/ngx-files.list)
endif

$(NGX_BUILD)/objs/Makefile: config build/ngx-files.list $(BOTS_GEN)
	rm -rf $(NGX_BUILD) && mkdir -p $(NGX_BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)/src
	cd $(NGX_BUILD)/src && source ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS) -fPIC" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS)" \
	    --add-dynamic-module=$(CURDIR) \
	    --builddir=$(CURDIR)/$(NGX_BUILD)/objs > $(CURDIR)/$(NGX_BUILD)/configure.log \
	    || { tail -30 $(CURDIR)/$(NGX_BUILD)/configure.log; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -s -f $(CURDIR)/$(NGX_BUILD)/objs/Makefile -C $(NGX_BUILD)/src modules
	cp $(NGX_BUILD)/objs/ngx_http_tally_module.so $@

# ---- tests -----------------------------------------------------------------

test: build $(TEST_BINS)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory jstest
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory pytest

# node's own test runner for the JavaScript parts and generators
JS_TEST_DIRS := $(wildcard tests/tracker tests/bots tests/dashboard)
jstest:
	node --test $(JS_TEST_DIRS)

unit: $(TEST_BINS) $(DATA)
	@fail=0; for t in $(TEST_BINS); do \
	    (cd $(CURDIR) && $$t) || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

pytest: build
	TALLY_BIN=$(CURDIR)/$(OUT) TALLY_MODULE=$(CURDIR)/$(MODULE_SO) \
	    $(PYTEST) -q tests $(PYTEST_ARGS)

# longer chaos run: make chaos [CHAOS_SECONDS=300] [SANITIZE=address]
# (make test runs the short default through tests/)
chaos: build
	TALLY_BIN=$(CURDIR)/$(OUT) TALLY_MODULE=$(CURDIR)/$(MODULE_SO) \
	    CHAOS_SECONDS=$(or $(CHAOS_SECONDS),300) $(PYTEST) -q tests/chaos $(PYTEST_ARGS)

# ---- fuzzing (clang + libFuzzer) --------------------------------------------
# The library sources are compiled once with coverage + ASan/UBSan into an
# archive; each target links only the objects it uses.  `make test` runs a
# short smoke pass (FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) per target, corpus
# included); `make fuzz FUZZ_SECONDS=N` runs longer.

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -I. $(FUZZ_SAN)
FUZZ_OBJS    := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
FUZZ_SMOKE_SECONDS ?= 3

build/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/libfuzz.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

build/fuzz/%: tests/fuzz/%.c build/fuzz/libfuzz.a $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libfuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS) $(DATA)
	@for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); corpus=tests/fuzz/corpus/$$n; \
	    mkdir -p build/fuzz/work/$$n; \
	    echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	        -artifact_prefix=build/fuzz/$$n- build/fuzz/work/$$n \
	        $$( [ -d $$corpus ] && echo $$corpus ) 2>build/fuzz/$$n.log \
	        || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	done; echo "fuzz: $(words $(FUZZ_BINS)) targets ran $(FUZZ_SECONDS)s each, no crash"

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# ---- install ---------------------------------------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=]   installs what `make build`
#                             produced (never builds: run it as root after a
#                             normal-user `make build`); docs/install.md
#   make uninstall            removes exactly what install put there
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: install uninstall
install:
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bash tools/install.sh

uninstall:
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bash tools/install.sh --uninstall

# ---- setup and demo ----------------------------------------------------------

deps:
	@bash tools/deps.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory build
	@bash tools/demo.sh

clean:
	rm -rf build
