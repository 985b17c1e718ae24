# `make paper [EPOCHS=E] [AUG=A] [QUICK=1]`: the paper's experiment on Fashion-MNIST
# (paper/run.sh); `make paper-all`: both of its claims, four training regimes and a ResNet
# pair over three seeds, reduced (paper/run-all.sh). Included by the Makefile. Like `make
# check`, each first installs what is missing, then reruns make so that pkg-config sees
# the new packages (EPOCHS, AUG and QUICK pass through).
# The cost of `make paper` on two idle cores: about 4 min per epoch (both nets side by
# side) plus under 4 min of native evaluation (2 nets x 36 angles x 10,000 images):
# EPOCHS=2 took 12 min. QUICK=1 runs the same pipeline on a small subset in well under a
# minute. AUG: upright (default), rot90, gauss45 or uniform: how the training images turn.
EPOCHS ?= 2
AUG    ?= upright
QUICK  ?=

paper: deps
	@$(MAKE) --no-print-directory paper-run
paper-run: all
	@paper/run.sh $(B) --aug $(AUG) $(if $(QUICK),--quick,--epochs $(EPOCHS))

paper-all: deps
	@$(MAKE) --no-print-directory paper-all-run
paper-all-run: all
	@paper/run-all.sh $(B)

.PHONY: paper-run paper-all paper-all-run
