# GATH (Pham et al. 2018) on top of the preprocessing chain (DESIGN.md):
#   videos -> landmarks -> 3dmm -> au (target set: frontal frames + AU vectors); portraits/frames -> frontal
#   (source set, identity = item) -> train aue -> train gath -> synthesize gath --au zeros (+ CLAHE) -> report
#
#   make -f stages/gath.mk gath WORK=work SOURCE=portrait.png GATH_STEPS=20000 BATCH=64 WIDTH=64 DEVICE=cuda
# The defaults are a CPU demo: a few minutes of training, far from the paper's schedule (an under-trained model).

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
