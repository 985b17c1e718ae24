# bench/bench.mk, included by the Makefile.
#
# `make bench` times geqc's native code against the PyTorch baseline (SPEC §5) and writes
# docs/performance.md and docs/performance.png. BENCH_THREADS and BENCH_ROUNDS tune it;
# speed targets are reported, never a failure.
BENCH_THREADS ?= 2
BENCH_ROUNDS  ?= 5

$(B)/bench/peak: bench/peak.c | $(B)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -pthread $< -o $@

bench: all $(B)/bench/peak
	$(PY) bench/run.py --build $(B) --threads $(BENCH_THREADS) --rounds $(BENCH_ROUNDS) --out docs
