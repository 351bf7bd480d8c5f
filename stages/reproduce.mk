# Shared by the three systems' `reproduce` targets (README "Reproducing the papers"); included by stages/gath.mk,
# flnet.mk and facial.mk before stages/preprocess.mk.
#
#   thead prepare ravdess /data/RAVDESS -o work/ravdess      # one thead.corpus manifest per corpus (thead.recipes)
#   make -f stages/gath.mk reproduce DATA=work/ravdess,work/vidtimit GPUS=8
#
# DATA    comma-separated corpus folders or manifests written by `thead prepare`; their `split` field decides what
#         is trained on (split=train) and what is evaluated (split=test), as each paper splits its corpora.
# GPUS    training processes on this node: above 1, training runs under torchrun (DDP), the stages unchanged.
# DEVICE  cuda by default for a reproduction; on CUDA the trainers run in bf16 mixed precision (--amp).
# REPRO   the work folder (default repro/); REPRO_TRAIN_FLAGS / REPRO_EVAL_FLAGS are appended to the paper's options
#         (the last value of an option wins), so `REPRO_TRAIN_FLAGS="--steps 2"` makes a smoke test of a recipe.
# The paper's settings come from thead/papers.py (`python -m thead.papers flags SYSTEM STEP`), each with the sentence
# of the paper it follows; the run ends with `thead paper-figures`: the paper's table beside the run's figures and
# the training's step time beside its loader's own samples/s.

comma := ,
DATA        ?=
GPUS        ?= 1
REPRO       ?= repro
REPRO_TRAIN_FLAGS ?=
REPRO_EVAL_FLAGS  ?=
ifneq ($(DATA),)
DEVICE      ?= cuda
endif
REPRO_DATA  := $(foreach d,$(subst $(comma), ,$(DATA)),$(if $(filter %.json,$(d)),$(d),$(d)/manifest.json))
# the corpora's own folders may be read (thead.manifest.paths): the user named them in DATA; and REPRO's own
ifneq ($(DATA),)
EXTRA_DATA  += $(REPRO) $(shell $(or $(PYTHON),python3) -m thead.papers roots $(REPRO_DATA))
REPRO_CORPORA := $(shell $(or $(PYTHON),python3) -m thead.papers corpora $(REPRO_DATA))
# every thead step's wall time (thead.cli): REPRO/timings.tsv
export THEAD_TIMINGS := $(abspath $(REPRO))/timings.tsv
endif
PAPER       = $(PYTHON) -m thead.papers flags
TRAIN_RUN   = $(if $(filter-out 0 1,$(GPUS)),$(PYTHON) -m torch.distributed.run --standalone --nproc-per-node $(GPUS) \
  -m thead,$(THEAD))
AMP         = $(if $(filter cuda%,$(DEVICE)),--amp)
# every recipe's training step: its device, precision, checkpoints and the user's flags (the step's own follow);
# REPRO_RESUME continues a run whose last.pt exists
REPRO_TRAIN_OPTS = --device $(DEVICE) $(AMP) --checkpoint-every 1000 $(REPRO_TRAIN_FLAGS)
REPRO_RESUME = $(if $(wildcard $@),--resume)
REPRO_CORPUS_FLAGS = $(addprefix --corpus ,$(REPRO_CORPORA))

# every manifest a pattern rule makes is kept (GNU make deletes "intermediate" files otherwise)
.SECONDARY:

# split=train / split=test of every corpus in DATA, then the stages the systems share (a reproduction of all three
# papers in one REPRO folder runs them once): landmarks at a constant 25 frames/s (FACIAL's audio features are per
# video frame), 3DMM fit and AU vectors.
$(REPRO)/corpus/%.json: $(REPRO_DATA)
	@test -n "$(DATA)" || { echo "error: give DATA=corpus folders from 'thead prepare' (comma-separated)"; exit 1; }
	$(THEAD) manifest merge $(REPRO_DATA) -o $@ --where split=$*

$(REPRO)/%/landmarks/manifest.json: $(REPRO)/corpus/%.json
	$(THEAD) extract-landmarks $< -o $(dir $@) --fps 25 $(COMMON)

$(REPRO)/%/au/manifest.json: $(REPRO)/%/landmarks/manifest.json
	$(THEAD) extract-au $< -o $(dir $@) --no-preview $(COMMON)
