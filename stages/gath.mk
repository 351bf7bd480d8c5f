# GATH (Pham et al. 2018) on top of the preprocessing chain (DESIGN.md):
#   videos -> landmarks -> 3dmm -> au (target set: frontal frames + AU vectors); portraits/frames -> frontal
#   (source set, identity = item) -> train aue -> train gath -> synthesize gath --au zeros (+ CLAHE) -> report
#
#   make -f stages/gath.mk gath WORK=work SOURCE=portrait.png GATH_STEPS=20000 BATCH=64 WIDTH=64 DEVICE=cuda
# The defaults are a CPU demo: a few minutes of training, far from the paper's schedule (an under-trained model).

include stages/reproduce.mk
include stages/preprocess.mk

SOURCE     ?= examples/data/portraits/SadTalker_happy1.png
AUE_STEPS  ?= 150
GATH_STEPS ?= 150
BATCH      ?= 16
WIDTH      ?= 32
VARIANT    ?= gath
DEVICE     ?= cpu
TRAIN_FLAGS ?=

AUE_CKPT   := $(WORK)/gath/aue/last.pt
GATH_CKPT  := $(WORK)/gath/$(VARIANT)/last.pt
NEUTRAL    := $(WORK)/gath/neutral/manifest.json
GATH_REPORT := $(WORK)/gath/report.md

.PHONY: gath
gath: $(GATH_REPORT)

$(AUE_CKPT): $(FRONTAL) $(AU)
	$(THEAD) train aue --target-frames $(FRONTAL) --target-au $(AU) -o $(dir $@) --steps $(AUE_STEPS) \
	  --batch-size $(BATCH) --width $(WIDTH) --device $(DEVICE) --checkpoint-every 50 $(TRAIN_FLAGS) \
	  $(if $(wildcard $@),--resume)

$(GATH_CKPT): $(AUE_CKPT) $(FRONTAL) $(AU)
	$(THEAD) train gath --source $(FRONTAL) --target-frames $(FRONTAL) --target-au $(AU) --aue $(AUE_CKPT) \
	  -o $(dir $@) --variant $(VARIANT) --steps $(GATH_STEPS) --batch-size $(BATCH) --width $(WIDTH) \
	  --device $(DEVICE) --checkpoint-every 50 $(TRAIN_FLAGS) $(if $(wildcard $@),--resume)

$(NEUTRAL): $(GATH_CKPT)
	$(THEAD) synthesize --checkpoint $< --au zeros --au-sweep AU12_r=0:4:5 --paste-back -o $(dir $@) \
	  --device $(DEVICE) $(FLAGS) $(SOURCE)

$(GATH_REPORT): $(NEUTRAL) $(REPORT)
	$(THEAD) report $(WORK)/gath -o $@ --title "GATH: neutralized portrait (--au zeros; under-trained demo model)"
	@echo "report: $@"

# ---- reproduce: GATH's Tables 1-3 (pixel MAE/RMSE, AU RMSE intra- and inter-class) ------------------------------
#   thead prepare ravdess /data/RAVDESS -o work/ravdess ; thead prepare vidtimit /data/VidTIMIT -o work/vidtimit
#   make -f stages/gath.mk reproduce DATA=work/ravdess,work/vidtimit GPUS=4
# The split=train media of every corpus in DATA are both the source set (identity = the corpus's person) and the
# target set (frontal 100 px frames + AU vectors), as the paper trains on RAVDESS and VidTIMIT; E then G, D, C with
# the paper's settings and objective (thead/papers.py: transposed convolutions, direct output, eq. 4 summed, no
# 3DMM warp, no expression loss); evaluated on the split=test people (RAVDESS's last four actors, 20% of VidTIMIT's
# speakers): intra-class synthesis (Tables 1, 2) and inter-class (Table 3). AU intensities come from thead's own
# landmarks -> 3DMM -> FACS chain, the paper's from OpenFace.
GR := $(REPRO)/gath
REPRO_AUE_FLAGS  ?=
REPRO_GATH_FLAGS ?=

.PHONY: reproduce
reproduce: $(GR)/paper.md

$(GR)/%/frontal/manifest.json: $(REPRO)/%/landmarks/manifest.json
	$(THEAD) frontalize $< -o $(dir $@) --size 100 $(COMMON)

$(GR)/aue/last.pt: $(GR)/train/frontal/manifest.json $(REPRO)/train/au/manifest.json
	$(TRAIN_RUN) train aue --target-frames $< --target-au $(word 2,$^) -o $(dir $@) $$($(PAPER) gath aue) \
	  $(REPRO_TRAIN_OPTS) $(REPRO_AUE_FLAGS) $(REPRO_RESUME)

$(GR)/gath/last.pt: $(GR)/aue/last.pt $(GR)/train/frontal/manifest.json $(REPRO)/train/au/manifest.json
	$(TRAIN_RUN) train gath --source $(word 2,$^) --target-frames $(word 2,$^) --target-au $(word 3,$^) --aue $< \
	  -o $(dir $@) $$($(PAPER) gath gath) $(REPRO_TRAIN_OPTS) $(REPRO_GATH_FLAGS) $(REPRO_RESUME)

$(GR)/eval/metrics.json: $(GR)/gath/last.pt $(GR)/test/frontal/manifest.json $(REPRO)/test/au/manifest.json
	$(THEAD) evaluate gath --checkpoint $< --frames $(word 2,$^) --au $(word 3,$^) -o $(dir $@) --device $(DEVICE) \
	  $(REPRO_EVAL_FLAGS)

$(GR)/paper.md: $(GR)/eval/metrics.json
	$(THEAD) paper-figures gath $< --run $(GR)/aue --run $(GR)/gath $(REPRO_CORPUS_FLAGS) -o $@
