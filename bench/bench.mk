# bench/bench.mk, included by the Makefile.
#
# `make bench` times geqc's native code against the PyTorch baseline (SPEC §5) and writes
# docs/performance.md and docs/performance.png. BENCH_THREADS, BENCH_ROUNDS (rounds of the
# two small models; the ResNets run at most 3) tune it; BENCH_ISA=avx2 runs both sides on
# AVX2 only (GEQRT_KERNEL, ONEDNN_MAX_CPU_ISA), as an AVX2 machine would, and writes
# docs/performance-avx2.md instead. Speed targets are reported, never a failure.
BENCH_THREADS ?= 2
BENCH_ROUNDS  ?= 5
BENCH_ISA     ?=

$(B)/bench/peak: bench/peak.c | $(B)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -pthread $< -o $@

$(B)/bench/kernel: bench/kernel.c $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/placement [N]`: where the VM put the two CPUs now (bench/placement.c), to
# log beside a two-thread timing; the executables' --bench prints it too.
$(B)/bench/placement: bench/placement.c $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/membw [ROUNDS [KB...]]`: GB/s per thread alone and with the other thread
# streaming too, by size, and the placement (bench/membw.c); not part of `make bench`.
$(B)/bench/membw: bench/membw.c bench/cpus.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/cut [ROUNDS [C H [SPIN]]]`: two threads sharing a [C, H, W] map at a cut
# between their rows, against private maps, page-aligned shares, a downward walk and an
# [H, C, W] layout (bench/cut.c); not part of `make bench`.
$(B)/bench/cut: bench/cut.c bench/cpus.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

bench: all $(B)/bench/peak $(B)/bench/kernel
	$(PY) bench/run.py --build $(B) --threads $(BENCH_THREADS) --rounds $(BENCH_ROUNDS) \
	        --out docs $(if $(BENCH_ISA),--isa $(BENCH_ISA))

# `build/bench/g8 THREADS ROUNDS L CIN HW COUT NG PLAN...`: a group layer's plans (expanded,
# the group at F(2x2), F(4x4), F(6x6), wide or narrow) alternated in one process, L distinct
# layers each (bench/g8.c); not part of `make bench`.
$(B)/bench/g8: bench/g8.c bench/harness.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/lift THREADS ROUNDS [FLUSH_MB [CIN H COUT]]`: ResNet-18's stem with its pool
# fused, writing its map out against pooling each band from a thread's buffer (bench/lift.c,
# s22-big); not part of `make bench`.
$(B)/bench/lift: bench/lift.c bench/harness.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/pair THREADS ROUNDS L C HW [ALGO]`: a residual block's two convolutions as two
# calls against one gq_conv_run_pair, alternated in one process, L distinct blocks (bench/pair.c,
# s24-band, s25-rows); not part of `make bench`.
$(B)/bench/pair: bench/pair.c bench/harness.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/formab THREADS ROUNDS L C HW A B`: residual blocks (gq_conv_run_pair) in two
# Winograd forms (GQ_CONV_* numbers; 0 the rules'), alternated in one process, L distinct
# blocks (bench/formab.c, s26-f7); not part of `make bench`.
$(B)/bench/formab: bench/formab.c bench/harness.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@

# `build/bench/s2 THREADS ROUNDS L CIN H COUT NG PLAN...`: a stride-2 3x3 layer's plans
# (the rules', F(2x2)'s, F(3x3)'s and F(4x4)'s stride-2 forms, direct, packed, the group's stride-2
# form, and a stride-1 layer on the output's size) alternated in one process, L distinct
# layers each (bench/s2.c, s23-s2); not part of `make bench`.
$(B)/bench/s2: bench/s2.c bench/harness.h $(B)/libgeqrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) $< $(B)/libgeqrt.a $(LIBS) -pthread -o $@
