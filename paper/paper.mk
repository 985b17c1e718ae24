# `make paper [EPOCHS=E] [QUICK=1]`: the paper's experiment on Fashion-MNIST (paper/run.sh).
# Included by the Makefile. Like `make check`, it first installs what is missing, then
# reruns make so that pkg-config sees the new packages (EPOCHS and QUICK pass through).
# The cost on two idle cores: about 4 min per epoch (both nets side by side) plus under
# 4 min of native evaluation (2 nets x 36 angles x 10,000 images): EPOCHS=2 took 12 min.
# QUICK=1 runs the same pipeline on a small subset in well under a minute.
EPOCHS ?= 2
QUICK  ?=

paper: deps
	@$(MAKE) --no-print-directory paper-run
paper-run: all
	@paper/run.sh $(B) $(if $(QUICK),--quick,--epochs $(EPOCHS))

.PHONY: paper-run
