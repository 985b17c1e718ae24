# geqc: `make` builds the compiler and runtime; `make check` runs every test;
# `make demo` compiles an example and runs it. Both install missing Debian packages
# through scripts/install-deps first.
CC      ?= gcc
PY      := /usr/bin/python3
PREFIX  ?= /usr/local
B       := build
VERSION := $(shell sed -n 's/^\#define GEQC_VERSION "\(.*\)"/\1/p' compiler/geqc.h)
WARN    := -Werror=switch -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CFLAGS  ?= -O2 -g
BASE    := -std=c11 -D_GNU_SOURCE $(WARN) -Icompiler -Iruntime -I$(B)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PKGS    := openblas jansson libpng
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
PKGCF   := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CHECKLIBS := $(shell pkg-config --libs check 2>/dev/null)

COMPILER_SRC := compiler/main.c compiler/ast.c compiler/ops.c compiler/diag.c \
                compiler/diag_sarif.c compiler/group.c compiler/sizes.c compiler/shape.c \
                compiler/expand.c compiler/check.c compiler/lint.c compiler/plan.c compiler/emit_c.c \
                compiler/emit_torch.c
COMPILER_SRC += compiler/explain.c
LOAD_SRC     := runtime/load_file.c runtime/load_safetensors.c runtime/load_npy.c \
                runtime/load_image.c
RUNTIME_SRC  := runtime/d4.c runtime/filters.c runtime/ops.c runtime/conv_fast.c runtime/conv_orbit.c \
                runtime/conv_phase.c runtime/wino_group.c runtime/pool_fast.c runtime/par.c $(LOAD_SRC) runtime/driver.c \
                runtime/model.c
GEN_SRC      := $(B)/parser.c $(B)/lexer.c

all: $(B)/geqc $(B)/libgeqrt.a

deps:
	@scripts/install-deps

$(B)/parser.c $(B)/parser.h &: compiler/parser.y | $(B)
	bison -Wall -Werror --defines=$(B)/parser.h -o $(B)/parser.c $<
$(B)/lexer.c $(B)/lexer.h &: compiler/lexer.l $(B)/parser.h | $(B)
	flex --header-file=$(B)/lexer.h -o $(B)/lexer.c $<

# Two builds of every object: plain (for users) and sanitized (for tests).
$(B)/o/%.o: %.c compiler/geqc.h compiler/ops.h runtime/geqrt.h $(B)/parser.h | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) $(CFLAGS) -c $< -o $@
$(B)/san/%.o: %.c compiler/geqc.h compiler/ops.h runtime/geqrt.h $(B)/parser.h | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(SAN) -c $< -o $@

# The loaders share one private header.
$(foreach d,$(B)/o $(B)/san $(B)/fuzz/o,$(LOAD_SRC:%.c=$(d)/%.o)): runtime/load_impl.h
$(foreach d,$(B)/o $(B)/san $(B)/fuzz/o $(B)/tsan,$(d)/runtime/conv_fast.o $(d)/runtime/conv_orbit.o \
	$(d)/runtime/wino_group.o): \
	runtime/conv_orbit.h
$(foreach d,$(B)/o $(B)/san $(B)/fuzz/o $(B)/tsan,$(d)/runtime/conv_fast.o $(d)/runtime/conv_phase.o): \
	runtime/conv_phase.h runtime/conv_phase_isa.h

# geqc -o finds the runtime it was built with (an installed geqc looks beside itself first).
$(B)/o/compiler/main.o $(B)/san/compiler/main.o: BASE += -DGEQC_BUILD_INC='"$(CURDIR)/runtime"' \
	-DGEQC_BUILD_LIB='"$(CURDIR)/$(B)"' -DGEQC_LINK_LIBS='"$(LIBS)"'

# The lexer and parser are generated into build/ but compiled like the rest.
$(B)/o/$(B)/%.o $(B)/san/$(B)/%.o: $(B)/%.c
$(B)/o/gen/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h compiler/geqc.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -Wno-sign-compare -Wno-unused-function -c $< -o $@
$(B)/san/gen/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h compiler/geqc.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE) -O1 -g $(SAN) -Wno-sign-compare -Wno-unused-function -c $< -o $@

COMPILER_OBJ = $(COMPILER_SRC:%.c=$(1)/%.o) $(1)/gen/parser.o $(1)/gen/lexer.o $(1)/runtime/d4.o
RUNTIME_OBJ  = $(RUNTIME_SRC:%.c=$(1)/%.o)

$(B)/geqc: $(call COMPILER_OBJ,$(B)/o)
	$(CC) $(CFLAGS) -o $@ $^ -lm
$(B)/san/geqc: $(call COMPILER_OBJ,$(B)/san)
	$(CC) $(SAN) -o $@ $^ -lm
$(B)/libgeqrt.a: $(call RUNTIME_OBJ,$(B)/o)
	rm -f $@ && ar rcs $@ $^
$(B)/san/libgeqrt.a: $(call RUNTIME_OBJ,$(B)/san)
	rm -f $@ && ar rcs $@ $^

$(B):
	@mkdir -p $(B)

clean:
	rm -rf $(B)

# ---- install: geqc, libgeqrt.a, geqrt.h and geqrt.pc (`pkg-config --libs geqrt`) ----
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/geqrt
	install -m 755 $(B)/geqc $(DESTDIR)$(PREFIX)/bin/geqc
	install -m 644 $(B)/libgeqrt.a $(DESTDIR)$(PREFIX)/lib/libgeqrt.a
	install -m 644 runtime/geqrt.h $(DESTDIR)$(PREFIX)/include/geqrt/geqrt.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' runtime/geqrt.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/geqrt.pc
	@case ":$$(pkg-config --variable pc_path pkg-config 2>/dev/null):$${PKG_CONFIG_PATH-}:" in \
	  *":$(PREFIX)/lib/pkgconfig:"*) ;; \
	  *) echo "make install: pkg-config does not look in $(PREFIX)/lib/pkgconfig; use" \
	     "export PATH=\"$(PREFIX)/bin:\$$PATH\" PKG_CONFIG_PATH=\"$(PREFIX)/lib/pkgconfig\"";; \
	esac

# `make bench`, `make paper` and `make fuzz` (with the replay and allocation-failure
# builds that `make check` uses) live beside their scripts.
include bench/bench.mk paper/paper.mk fuzz/fuzz.mk

# ---- tests ----
UNIT_TESTS := ast diag parser group check lint ops load badinput limits conv_fast conv_orbit tune
COMPILER_LIB_OBJ = $(filter-out $(1)/compiler/main.o,$(call COMPILER_OBJ,$(1)))
$(B)/san/tests/test_%: tests/test_%.c tests/harness.h $(call COMPILER_LIB_OBJ,$(B)/san) \
		$(B)/san/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(SAN) $(shell pkg-config --cflags check) $(filter-out %.h,$^) -o $@ \
		$(LIBS) $(CHECKLIBS)

# tests/test_threads.c: the runtime and a generated model under ThreadSanitizer (geqrt.h's
# concurrency contract), several application threads on several nets and on one.
TSAN       := -fsanitize=thread -fno-omit-frame-pointer
TSAN_MODEL := paper28
$(B)/tsan/%.o: %.c runtime/geqrt.h | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(TSAN) -c $< -o $@
$(B)/tsan/$(TSAN_MODEL).c: examples/$(TSAN_MODEL).geq $(B)/geqc
	@mkdir -p $(dir $@)
	$(B)/geqc -Wno-equivariance --emit=c -o $@ $<
$(B)/tsan/test_threads: tests/test_threads.c $(B)/tsan/$(TSAN_MODEL).c \
		$(RUNTIME_SRC:%.c=$(B)/tsan/%.o)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(TSAN) -DGQ_TEST_MODEL=$(TSAN_MODEL)_model $^ -o $@ \
		$(LIBS) -lpthread

# generated/: the C emitted for every example, committed; tests/check-generated.sh
# fails when regenerating would change it.
EXAMPLES := $(wildcard examples/*.geq)
generated: $(B)/geqc
	@for f in $(EXAMPLES); do n=$$(basename $$f .geq); \
	  $(B)/geqc -Wno-equivariance --emit=c -o generated/$$n.c examples/$$n.geq || exit 1; done
	@echo "regenerated generated/ for $(words $(EXAMPLES)) examples"

# `make check` and `make demo` first install what is missing, then rerun make so that
# pkg-config sees the new packages. `make check` builds and tests CHECK_JOBS at a time
# (default: the number of CPUs) unless make was given -j itself.
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# conv_fast.c's three compiles (TSan, plain, sanitized: 130, 118, 85 s of a 463 s build)
# come first, so that the jobs keep every CPU busy to the end; the generated parser
# header before them, else make -j starts them only after every other object.
check: deps
	@$(MAKE) --no-print-directory -s $(B)/parser.h $(B)/lexer.h
	@case " $$MAKEFLAGS " in *" -j"*) j= ;; *) j=-j$(CHECK_JOBS) ;; esac; \
	$(MAKE) --no-print-directory $$j check-run
check-run: $(foreach d,tsan o san,$(B)/$(d)/runtime/conv_fast.o) all $(B)/san/geqc \
		$(B)/san/libgeqrt.a $(UNIT_TESTS:%=$(B)/san/tests/test_%) $(FUZZ_CHECK_PREREQS) \
		$(B)/tsan/test_threads
	@CHECK_JOBS=$(CHECK_JOBS) tests/run-all.sh $(B)

demo: deps
	@$(MAKE) --no-print-directory demo-run
demo-run: all
	@scripts/demo.sh $(B)

.PHONY: generated all deps clean check check-run demo demo-run bench install paper
.DELETE_ON_ERROR:
