# bench/bench.mk, included by the Makefile.
#
# `make bench` times geqc's native code against the PyTorch baseline (SPEC §5) and writes
# docs/performance.md and docs/performance.png. BENCH_THREADS and BENCH_ROUNDS tune it;
# speed targets are reported, never a failure.
BENCH_THREADS ?= 2
BENCH_ROUNDS  ?= 2

$(B)/bench/peak: bench/peak.c | $(B)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -pthread $< -o $@

bench: all $(B)/bench/peak
	$(PY) bench/run.py --build $(B) --threads $(BENCH_THREADS) --rounds $(BENCH_ROUNDS) --out docs

# The fast kernels (runtime/conv_fast.c, runtime/pool_fast.c) and the thread team
# (runtime/par.c) belong in libgeqrt.a. Until RUNTIME_SRC lists them, these extra prerequisites add them: the archive
# recipes archive $^, which make deduplicates, so listing them in both places is harmless.
FAST_SRC := runtime/conv_fast.c runtime/par.c runtime/pool_fast.c
$(B)/libgeqrt.a: $(FAST_SRC:%.c=$(B)/o/%.o)
$(B)/san/libgeqrt.a: $(FAST_SRC:%.c=$(B)/san/%.o)
check-run: $(B)/san/tests/test_conv_fast
