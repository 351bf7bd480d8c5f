# FACIAL (Zhang et al. 2021) on top of the preprocessing chain (DESIGN.md):
#   reference videos -> landmarks -> 3dmm -> au (AU45) ; 3dmm -> audio-features ; au -> render-face
#   -> train facial-gan (all clips) -> train facial-gan --finetune (the reference) -> train render2video (the
#   reference) -> synthesize facial --audio SPEECH -> evaluate facial -> report
#
#   make -f stages/facial.mk facial WORK=work VIDEOS=videos/ FC_PERSON=clip_id FC_AUDIO=speech.wav \
#        FC_SIZE=256 FC_GAN_STEPS=20000 FC_R2V_STEPS=50000 FC_WIDTH=64 DEVICE=cuda \
#        FC_EVAL_FLAGS="--syncnet-weights syncnet_v2.model"
# FC_SYN_FLAGS (default --paste-back) also writes the result pasted into the reference video's frames.
# The defaults are a CPU demo: a few minutes of training at 128 px (an under-trained model).

include stages/preprocess.mk

FC_PERSON    ?= LivePortrait_d20
FC_AUDIO     ?= examples/data/audio/SadTalker_RD_Radio34_002_5s.wav
FC_SIZE      ?= 128
FC_KIND      ?= mfcc
FC_GAN_STEPS ?= 300
FC_TUNE_STEPS ?= 100
FC_R2V_STEPS ?= 300
FC_WIDTH     ?= 16
FC_BATCH     ?= 8
FC_TRAIN_FLAGS ?=
FC_SYN_FLAGS ?= --paste-back
FC_EVAL_FLAGS ?=
DEVICE       ?= cpu

FC_AUDIOF  := $(WORK)/facial/audio/manifest.json
FC_RENDER  := $(WORK)/facial/render/manifest.json
FC_GAN     := $(WORK)/facial/gan/last.pt
FC_TUNED   := $(WORK)/facial/gan-$(FC_PERSON)/last.pt
FC_R2V     := $(WORK)/facial/r2v-$(FC_PERSON)/last.pt
FC_SYN     := $(WORK)/facial/synth/manifest.json
FC_EVAL    := $(WORK)/facial/eval/metrics.json
FC_REPORT  := $(WORK)/facial/report.md
FC_REF_VIDEO = $(firstword $(wildcard $(VIDEOS)/$(FC_PERSON).*))

.PHONY: facial
facial: $(FC_REPORT)

$(FC_AUDIOF): $(FIT)
	$(THEAD) audio-features $< -o $(dir $@) --kind $(FC_KIND) $(COMMON)

$(FC_RENDER): $(AU)
	$(THEAD) render-face $< -o $(dir $@) --size $(FC_SIZE) $(COMMON)

$(FC_GAN): $(FC_AUDIOF) $(AU)
	$(THEAD) train facial-gan --audio $(FC_AUDIOF) --au $(AU) -o $(dir $@) --steps $(FC_GAN_STEPS) \
	  --batch-size $(FC_BATCH) --device $(DEVICE) --checkpoint-every 50 $(FC_TRAIN_FLAGS) $(if $(wildcard $@),--resume)

$(FC_TUNED): $(FC_GAN)
	$(THEAD) train facial-gan --audio $(FC_AUDIOF) --au $(AU) --clip $(FC_PERSON) --finetune $< -o $(dir $@) \
	  --steps $(FC_TUNE_STEPS) --batch-size $(FC_BATCH) --device $(DEVICE) --checkpoint-every 50 $(FC_TRAIN_FLAGS) \
	  $(if $(wildcard $@),--resume)

$(FC_R2V): $(FC_RENDER)
	$(THEAD) train render2video --manifest $< --clip $(FC_PERSON) -o $(dir $@) --steps $(FC_R2V_STEPS) \
	  --width $(FC_WIDTH) --d-width $(FC_WIDTH) --batch-size 2 \
	  --device $(DEVICE) --checkpoint-every 50 $(FC_TRAIN_FLAGS) $(if $(wildcard $@),--resume)

$(FC_SYN): $(FC_TUNED) $(FC_R2V) $(FC_RENDER)
	$(THEAD) synthesize facial --audio $(FC_AUDIO) --reference $(FC_RENDER) --reference-item $(FC_PERSON) \
	  --facial-gan $(FC_TUNED) --render2video $(FC_R2V) -o $(dir $@) --device $(DEVICE) $(FC_SYN_FLAGS)

$(FC_EVAL): $(FC_SYN)
	$(THEAD) evaluate facial --video $(dir $(FC_SYN))$(basename $(notdir $(FC_AUDIO))).mp4 \
	  --reference $(FC_REF_VIDEO) -o $(dir $@) --device $(DEVICE) $(FC_EVAL_FLAGS)

$(FC_REPORT): $(FC_EVAL)
	$(THEAD) report $(WORK)/facial -o $@ --title "FACIAL: $(FC_PERSON) speaking $(notdir $(FC_AUDIO)) \
	  (under-trained demo model)"
	@echo "report: $@"
