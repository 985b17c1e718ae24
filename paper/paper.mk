# `make paper [EPOCHS=E] [QUICK=1]`: the paper's experiment on Fashion-MNIST (paper/run.sh).
# Included by the Makefile. Like `make check`, it first installs what is missing, then
# reruns make so that pkg-config sees the new packages (EPOCHS and QUICK pass through).
# EPOCHS=2 keeps the whole run (2 trainings, 2 x 36 x 10,000 native evaluations) well under
# 20 minutes on two cores; QUICK=1 runs the same pipeline on a small subset in about a minute.
EPOCHS ?= 2
QUICK  ?=

paper: deps
	@$(MAKE) --no-print-directory paper-run
paper-run: all
	@paper/run.sh $(B) $(if $(QUICK),--quick,--epochs $(EPOCHS))

.PHONY: paper-run
