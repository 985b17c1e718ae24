# `make paper [EPOCHS=E] [QUICK=1]`: the paper's experiment on Fashion-MNIST (paper/run.sh).
# Included by the Makefile. Like `make check`, it first installs what is missing, then
# reruns make so that pkg-config sees the new packages (EPOCHS and QUICK pass through).
# The cost on two idle cores: about 3.7 min per epoch (both nets side by side) plus 11 min
# of native evaluation (2 nets x 36 angles x 10,000 images), so EPOCHS=1 takes about 15 min.
# QUICK=1 runs the same pipeline on a small subset in about a minute.
EPOCHS ?= 1
QUICK  ?=

paper: deps
	@$(MAKE) --no-print-directory paper-run
paper-run: all
	@paper/run.sh $(B) $(if $(QUICK),--quick,--epochs $(EPOCHS))

.PHONY: paper-run
