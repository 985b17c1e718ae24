# fuzz/fuzz.mk: the fuzz targets, their replay builds and the allocation-failure test.
# Included by the Makefile (it uses B, BASE, PKGCF, SAN, LIBS, PY and COMPILER_OBJ from there).
#
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS="geq npy"]
#       builds every target with clang's libFuzzer (ASan + UBSan), then runs each for N
#       seconds (default 60) on its seed corpus and dictionary; prints per target the
#       executions, coverage and crashes. Inputs it finds are kept in $(B)/fuzz/corpus/,
#       crashes in $(B)/fuzz/crashes/: fix the bug, then copy the input to
#       tests/fuzz-regressions/TARGET/.
#   make fuzz-replay    the regressions and seed corpora through the targets built with gcc
#                       and fuzz/replay.c instead of libFuzzer (what `make check` runs)
#   make alloc-fail     the allocation-failure test
#
# Targets: geq (parser -> checker -> lint -> emitters), safetensors, npy, png, pgm (the last
# two are one loader, gq_load_image, with different seeds and dictionaries).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= geq safetensors npy png pgm
FUZZ_ALL     := geq safetensors npy png pgm
FUZZ_SANS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SANS) -fsanitize=fuzzer-no-link
FUZZ_HDRS    := compiler/geqc.h compiler/ops.h runtime/geqrt.h fuzz/fuzz.h $(B)/parser.h

# What each target links besides its own file: the compiler without main.c, or the loaders.
FUZZ_FRONT   = $(filter-out $(1)/compiler/main.o,$(call COMPILER_OBJ,$(1)))
FUZZ_LOADER  = $(LOAD_SRC:%.c=$(1)/%.o)
fuzz_src     = fuzz/fuzz_$(if $(filter png pgm,$(1)),image,$(1)).c
fuzz_libs    = $(if $(filter geq,$(1)),$(call FUZZ_FRONT,$(2)),$(call FUZZ_LOADER,$(2)))
# The png target mends chunk CRCs before decoding, so that mutations reach the chunk
# contents instead of dying at the checksum (tests/bad/ covers bad CRCs).
fuzz_defs    = $(if $(filter png,$(1)),-DFUZZ_PNG_FIX_CRC)

# ---- the libFuzzer build (clang) ----
# Says what to install when the compiler or its fuzzer runtime is missing.
fuzz-cc:
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	  $(FUZZ_CC) -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null || { echo "make fuzz:" \
	  "needs $(FUZZ_CC) with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)" >&2; \
	  exit 2; }
$(B)/fuzz/o/%.o: %.c $(FUZZ_HDRS) | fuzz-cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE) $(PKGCF) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/o/gen/%.o: $(B)/%.c $(FUZZ_HDRS) $(B)/lexer.h | fuzz-cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE) $(FUZZ_CFLAGS) -Wno-sign-compare -Wno-unused-function -c $< -o $@

define FUZZ_TARGET_RULES
$(B)/fuzz/fuzz-$(1): $(call fuzz_src,$(1)) $(call fuzz_libs,$(1),$(B)/fuzz/o) $(FUZZ_HDRS) | fuzz-cc
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(BASE) $(PKGCF) $(FUZZ_CFLAGS) $(call fuzz_defs,$(1)) -fsanitize=fuzzer \
		$(call fuzz_src,$(1)) $(call fuzz_libs,$(1),$(B)/fuzz/o) -o $$@ $(LIBS) -lz
$(B)/san/fuzz/replay-$(1): fuzz/replay.c $(call fuzz_src,$(1)) \
		$(call fuzz_libs,$(1),$(B)/san) $(FUZZ_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(SAN) $(call fuzz_defs,$(1)) fuzz/replay.c \
		$(call fuzz_src,$(1)) $(call fuzz_libs,$(1),$(B)/san) -o $$@ $(LIBS) -lz
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_TARGET_RULES,$(t))))

# ---- seeds: real files and generated ones (fuzz/make-seeds.py), rebuilt when they change ----
FUZZ_SEED_INPUTS := $(wildcard examples/* tests/errors/*.geq tests/lint/*.geq tests/bad/* \
	tests/data/* tests/native/*.geq tests/native/models/*.geq fuzz/*.geq)
$(B)/fuzz/seeds/.stamp: fuzz/make-seeds.py $(FUZZ_SEED_INPUTS)
	@mkdir -p $(dir $@)
	$(PY) fuzz/make-seeds.py $(B)/fuzz/seeds
	@touch $@

fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz-%) $(B)/fuzz/seeds/.stamp
	@fuzz/run-fuzz.sh $(B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- replay and allocation failure: gcc, the Makefile's sanitized objects ----
FUZZ_REPLAY := $(FUZZ_ALL:%=$(B)/san/fuzz/replay-%)

# main.c as a function, so that the test can run the whole command line in a child per
# failing allocation; libpng, jansson and zlib linked statically so that --wrap reaches
# their allocations too.
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=vasprintf \
	-Wl,--wrap=json_loadb
ALLOC_STATIC := -Wl,-Bstatic $(shell pkg-config --libs libpng jansson 2>/dev/null) -lz \
	-Wl,-Bdynamic -lm
$(B)/san/tests/alloc-main.o: compiler/main.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) -O1 -g $(SAN) -Dmain=geqc_main -c $< -o $@
$(B)/san/tests/alloc-fail: tests/alloc-fail.c $(B)/san/tests/alloc-main.o \
		$(call FUZZ_FRONT,$(B)/san) $(call FUZZ_LOADER,$(B)/san)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(SAN) $^ -o $@ $(ALLOC_WRAP) $(ALLOC_STATIC)

# What `make check` needs built before tests/run-all.sh runs the two scripts.
FUZZ_CHECK_PREREQS := $(FUZZ_REPLAY) $(B)/san/tests/alloc-fail $(B)/fuzz/seeds/.stamp

fuzz-replay: $(FUZZ_REPLAY) $(B)/fuzz/seeds/.stamp
	@tests/replay-fuzz.sh $(B)
alloc-fail: $(B)/san/tests/alloc-fail $(B)/fuzz/seeds/.stamp
	@tests/alloc-fail.sh $(B)

.PHONY: fuzz fuzz-cc fuzz-replay alloc-fail
