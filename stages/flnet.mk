# FLNet (Gu et al. 2020) on top of the preprocessing chain (DESIGN.md):
#   videos -> landmarks -> face crops (nose-centred, no alignment) -> bank of N frames by mouth openness
#   -> train flnet -> synthesize flnet --bank ... --landmarks driving.mp4 -> evaluate flnet (held-back frames) -> report
#
#   make -f stages/flnet.mk flnet WORK=work VIDEOS=videos/ FL_PERSON=clip_id FL_DRIVING=driving.mp4 \
#        FL_SIZE=224 FL_STEPS=50000 FL_BATCH=8 FL_WIDTH=64 DEVICE=cuda
# The defaults are a CPU demo: a few minutes of training at 128 px and a narrow network, fine-tuned from thead's
# general FLNet (examples/weights/flnet_pretrained.pt, trained on the people of ../shared/data; it saw the demo's
# LivePortrait_d20, so the demo's held-back figures are not a held-out score: bench/quality_flnet.py is). FL_FINETUNE=
# (empty) trains from scratch; another size, width, variant or bank size trains from scratch unless FL_FINETUNE names
# a general model of that shape.

include stages/reproduce.mk
include stages/preprocess.mk

FL_PERSON   ?= LivePortrait_d20
FL_DRIVING  ?= examples/data/videos/TPSMM_driving.mp4
FL_SIZE     ?= 128
FL_STEPS    ?= 300
FL_BATCH    ?= 4
FL_WIDTH    ?= 16
FL_VARIANT  ?= full
FL_BANK     ?= 5
FL_HOLDOUT  ?= 0.2
# the bank comes from the frames trained on (the first 1 - FL_HOLDOUT of each clip)
FL_BANK_FRAMES ?= 0:0.8
FL_FRAMES   ?= 60
FL_TARGETS  ?= 12
DEVICE      ?= cpu
FL_TRAIN_FLAGS ?=
# fine-tuning is person-specific: every sample on the bank make-bank picks (FL_BANK_FRAMES = the trained frames), at
# 3x the paper's learning rate, with E also taking the bank warped by the landmark prior (the general model's first
# conv widened with zero weights; bench/quality_flnet.py measures all three)
FL_FINETUNE_FLAGS ?= --fixed-bank --lr 3e-4 --warped-input
FL_FINETUNE ?= $(if $(and $(filter 128,$(FL_SIZE)),$(filter 16,$(FL_WIDTH)),$(filter full,$(FL_VARIANT)),$(filter 5,$(FL_BANK))),examples/weights/flnet_pretrained.pt)

FL_TITLE_NOTE = $(if $(FL_FINETUNE),$(FL_STEPS) steps fine-tuned from $(notdir $(FL_FINETUNE)): for the people it \
  was trained on - those of ../shared/data - the held-back figures are no held-out score,$(FL_STEPS) steps from scratch)

FL_CROPS  := $(WORK)/flnet/crops/manifest.json
FL_BANKS  := $(WORK)/flnet/bank/manifest.json
FL_CKPT   := $(WORK)/flnet/run/last.pt
FL_SYN    := $(WORK)/flnet/synth/manifest.json
FL_EVAL   := $(WORK)/flnet/eval/metrics.json
FL_REPORT := $(WORK)/flnet/report.md

.PHONY: flnet
flnet: $(FL_REPORT)

$(FL_CROPS): $(LANDMARKS)
	$(THEAD) crop-faces $< -o $(dir $@) --size $(FL_SIZE) $(COMMON)

$(FL_BANKS): $(FL_CROPS)
	$(THEAD) make-bank $< -o $(dir $@) --bank-size $(FL_BANK) --identity $(FL_PERSON) --frames $(FL_BANK_FRAMES)

$(FL_CKPT): $(FL_CROPS)
	$(THEAD) train flnet --manifest $< -o $(dir $@) --variant $(FL_VARIANT) --bank-size $(FL_BANK) \
	  --holdout $(FL_HOLDOUT) --steps $(FL_STEPS) --batch-size $(FL_BATCH) --width $(FL_WIDTH) --d-width $(FL_WIDTH) \
	  --device $(DEVICE) --checkpoint-every 50 $(FL_TRAIN_FLAGS) \
	  $(if $(FL_FINETUNE),--finetune $(FL_FINETUNE) $(FL_FINETUNE_FLAGS)) $(if $(wildcard $@),--resume)

$(FL_SYN): $(FL_CKPT) $(FL_BANKS)
	$(THEAD) synthesize flnet --checkpoint $(FL_CKPT) --bank $(FL_BANKS) --landmarks $(FL_DRIVING) \
	  --max-frames $(FL_FRAMES) -o $(dir $@) --device $(DEVICE)

$(FL_EVAL): $(FL_CKPT) $(FL_CROPS)
	$(THEAD) evaluate flnet --checkpoint $(FL_CKPT) --manifest $(FL_CROPS) --max-targets $(FL_TARGETS) \
	  -o $(dir $@) --device $(DEVICE)

$(FL_REPORT): $(FL_SYN) $(FL_EVAL)
	$(THEAD) report $(WORK)/flnet -o $@ --title "FLNet: $(FL_PERSON) driven by $(notdir $(FL_DRIVING)) \
	  ($(FL_TITLE_NOTE))"
	@echo "report: $@"

# ---- reproduce: FLNet's Table 1 (L1, FID) -------------------------------------------------------------------------
#   thead prepare tcd-timit /data/TCD-TIMIT -o work/tcd-timit      (or faceforensics; see stages/reproduce.mk)
#   make -f stages/flnet.mk reproduce DATA=work/tcd-timit GPUS=4     (FID: thead weights download inception first)
# Trains on the split=train people (every frame: --holdout 0) with the paper's settings (thead/papers.py), then
# evaluates on the split=test people, whom it never saw: each one's bank of 5 from the first 80% of their clips, the
# targets their last 20% driven by their own landmarks (the paper does not spell out its test protocol; this one is
# thead's). FaceForensics: the paper centres crops on the outer eye corners; thead's crops are nose-centred for both.
FLR := $(REPRO)/flnet
REPRO_PREP_FLAGS  ?=
REPRO_FLNET_FLAGS ?=

.PHONY: reproduce
reproduce: $(FLR)/paper.md

$(FLR)/%/crops/manifest.json: $(REPRO)/%/landmarks/manifest.json
	$(THEAD) crop-faces $< -o $(dir $@) $$($(PAPER) flnet crop) $(REPRO_PREP_FLAGS) $(COMMON)

$(FLR)/run/last.pt: $(FLR)/train/crops/manifest.json
	$(TRAIN_RUN) train flnet --manifest $< -o $(dir $@) $$($(PAPER) flnet flnet) --holdout 0 $(REPRO_TRAIN_OPTS) \
	  $(REPRO_FLNET_FLAGS) $(REPRO_RESUME)

$(FLR)/eval/metrics.json: $(FLR)/run/last.pt $(FLR)/test/crops/manifest.json
	$(THEAD) evaluate flnet --checkpoint $< --manifest $(word 2,$^) --holdout 0.2 -o $(dir $@) --device $(DEVICE) \
	  $(REPRO_EVAL_FLAGS)

$(FLR)/paper.md: $(FLR)/eval/metrics.json
	$(THEAD) paper-figures flnet $< --run $(FLR)/run $(REPRO_CORPUS_FLAGS) -o $@
