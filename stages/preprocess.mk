# Preprocessing chain shared by GATH, FLNet and FACIAL (DESIGN.md):
#   media -> landmarks -> 3dmm -> au ;  landmarks -> frontal -> clahe ;  everything -> report.md
# Targets are the manifests each stage writes, so Make reruns only what is out of date; each stage itself resumes
# item by item if interrupted.
#
#   make -f stages/preprocess.mk WORK=work VIDEOS=videos/ PORTRAITS=portraits/ JOBS=2
#   make -f stages/preprocess.mk WORK=work SHARD=0/4     # one job of a 4-way array; merge with thead manifest merge

PYTHON    ?= python3
THEAD     ?= $(PYTHON) -m thead
WORK      ?= work
VIDEOS    ?= examples/data/videos
PORTRAITS ?= examples/data/portraits
JOBS      ?= 1
SIZE      ?= 100
SHARD     ?=
FLAGS     ?=
COMMON    := --workers $(JOBS) $(if $(SHARD),--shard $(SHARD)) $(FLAGS)

# The media folders named here are the chain's own data, so the stages may follow manifests to them wherever they
# are (thead.manifest.paths; EXTRA_DATA adds folders). A THEAD_ALLOW_OUTSIDE from the environment is kept.
EXTRA_DATA ?=
_space := $(subst ,, )
_DATA := $(subst $(_space),:,$(strip $(THEAD_ALLOW_OUTSIDE) $(abspath $(VIDEOS) $(PORTRAITS) $(EXTRA_DATA))))
export THEAD_ALLOW_OUTSIDE := $(if $(filter 1 true yes any,$(THEAD_ALLOW_OUTSIDE)),$(THEAD_ALLOW_OUTSIDE),$(_DATA))

LANDMARKS := $(WORK)/landmarks/manifest.json
FIT       := $(WORK)/3dmm/manifest.json
AU        := $(WORK)/au/manifest.json
FRONTAL   := $(WORK)/frontal/manifest.json
CLAHE     := $(WORK)/clahe/manifest.json
REPORT    := $(WORK)/report.md

.PHONY: preprocess
preprocess: $(REPORT)

$(LANDMARKS):
	$(THEAD) extract-landmarks $(VIDEOS) $(PORTRAITS) -o $(WORK)/landmarks $(COMMON)

$(FIT): $(LANDMARKS)
	$(THEAD) fit-3dmm $< -o $(WORK)/3dmm $(COMMON)

$(AU): $(FIT)
	$(THEAD) extract-au $< -o $(WORK)/au $(COMMON)

$(FRONTAL): $(LANDMARKS)
	$(THEAD) frontalize $< -o $(WORK)/frontal --size $(SIZE) $(COMMON)

$(CLAHE): $(FRONTAL)
	$(THEAD) postprocess-clahe $< -o $(WORK)/clahe $(COMMON)

$(REPORT): $(AU) $(CLAHE)
	$(THEAD) manifest validate $^ $(LANDMARKS) $(FIT) $(FRONTAL)
	$(THEAD) report $(WORK) -o $@ --title "thead preprocessing report"
	@echo "report: $@"
