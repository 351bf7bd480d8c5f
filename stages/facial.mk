# FACIAL (Zhang et al. 2021) on top of the preprocessing chain (DESIGN.md):
#   reference videos -> landmarks -> 3dmm -> au (AU45) ; 3dmm -> audio-features ; au -> render-face
#   -> FACIAL-GAN (general: FC_GAN_PRETRAINED, or trained on all clips) -> train facial-gan --finetune (the
#   reference) -> train render2video (the reference) -> synthesize facial --audio SPEECH -> evaluate -> report
#
#   make -f stages/facial.mk facial WORK=work VIDEOS=videos/ FC_PERSON=clip_id FC_AUDIO=speech.wav \
#        FC_SIZE=256 FC_GAN_STEPS=20000 FC_R2V_STEPS=50000 FC_WIDTH=64 DEVICE=cuda FC_GAN_PRETRAINED= \
#        FC_EVAL_FLAGS="--syncnet-weights syncnet_v2.model"
#
# One reference video and one speech file to the pasted MP4 with sound in an hour of a 2-core CPU, preprocessing
# included (FC_BUDGET minutes; the rendering-to-video network gets what the steps before it left, less a reserve
# for synthesis of FC_AUDIO):
#
#   make -f stages/facial.mk facial FC_PRESET=cpu-hour WORK=work VIDEOS=my_videos/ FC_PERSON=alice \
#        FC_AUDIO=speech.wav
#
# The general FACIAL-GAN: examples/weights/facial_gan_pretrained.pt, trained on every clip with speech in
# ../shared/data (videos/ and train/; `make -f stages/facial.mk facial-pretrain` remakes it, about 30 CPU-minutes,
# 25 of them preprocessing).
# With FC_GAN_PRETRAINED= (empty) the general model is trained on the clips in VIDEOS instead.
# FC_SYN_FLAGS (default --paste-back) also writes the result pasted into the reference video's frames. Every thead
# step appends its wall time to $(WORK)/facial/timings.tsv (THEAD_TIMINGS), which heads the report.
# The defaults are a CPU demo: a few minutes of training at 128 px (an under-trained model).

FC_PRESET ?=
ifeq ($(FC_PRESET),cpu-hour)
FC_SIZE       := 128
FC_WIDTH      := 24
FC_BATCH      := 16
FC_TUNE_STEPS := 300
FC_TUNE_MINUTES := 5
FC_R2V_STEPS  := 1000000
FC_BUDGET     := 60
JOBS          := 2
PORTRAITS     :=
else ifneq ($(FC_PRESET),)
$(error FC_PRESET=$(FC_PRESET): the presets are cpu-hour (or none))
endif

include stages/reproduce.mk
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
FC_GAN_PRETRAINED ?= $(wildcard examples/weights/facial_gan_pretrained.pt)
FC_TUNE_MINUTES ?= 0
FC_R2V_MINUTES ?= 0
FC_BUDGET    ?=


ifeq ($(DATA),)  # a reproduction (stages/reproduce.mk) logs into its own REPRO folder
export THEAD_TIMINGS := $(abspath $(WORK))/facial/timings.tsv
endif
# minutes left for rendering-to-video: FC_BUDGET less what the steps so far took, less a synthesis reserve
FC_R2V_BUDGET = $(if $(FC_BUDGET),$$($(PYTHON) -m thead.budget --budget $(FC_BUDGET) --timings $(THEAD_TIMINGS) \
  --speech $(FC_AUDIO)),$(FC_R2V_MINUTES))

FC_TITLE = FACIAL: $(FC_PERSON) speaking $(notdir $(FC_AUDIO))$(if $(FC_PRESET), ($(FC_PRESET) preset), (under-trained \
  demo model))
FC_AUDIOF  := $(WORK)/facial/audio/manifest.json
FC_RENDER  := $(WORK)/facial/render/manifest.json
FC_GAN     := $(if $(FC_GAN_PRETRAINED),$(FC_GAN_PRETRAINED),$(WORK)/facial/gan/last.pt)
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

$(WORK)/facial/gan/last.pt: $(FC_AUDIOF) $(AU)
	$(THEAD) train facial-gan --audio $(FC_AUDIOF) --au $(AU) -o $(dir $@) --steps $(FC_GAN_STEPS) \
	  --batch-size $(FC_BATCH) --device $(DEVICE) --checkpoint-every 50 $(FC_TRAIN_FLAGS) $(if $(wildcard $@),--resume)

$(FC_TUNED): $(FC_GAN) $(FC_AUDIOF) $(AU)
	$(THEAD) train facial-gan --audio $(FC_AUDIOF) --au $(AU) --clip $(FC_PERSON) --finetune $< -o $(dir $@) \
	  --steps $(FC_TUNE_STEPS) --batch-size $(FC_BATCH) --device $(DEVICE) --checkpoint-every 50 $(FC_TRAIN_FLAGS) \
	  --time-limit $(FC_TUNE_MINUTES) $(if $(wildcard $@),--resume)

$(FC_R2V): $(FC_RENDER) $(FC_TUNED)
	$(THEAD) train render2video --manifest $< --clip $(FC_PERSON) -o $(dir $@) --steps $(FC_R2V_STEPS) \
	  --width $(FC_WIDTH) --d-width $(FC_WIDTH) --batch-size 4 --time-limit $(FC_R2V_BUDGET) \
	  --device $(DEVICE) --checkpoint-every 100 $(FC_TRAIN_FLAGS) $(if $(wildcard $@),--resume)

$(FC_SYN): $(FC_TUNED) $(FC_R2V) $(FC_RENDER)
	$(THEAD) synthesize facial --audio $(FC_AUDIO) --reference $(FC_RENDER) --reference-item $(FC_PERSON) \
	  --facial-gan $(FC_TUNED) --render2video $(FC_R2V) -o $(dir $@) --device $(DEVICE) $(FC_SYN_FLAGS)

$(FC_EVAL): $(FC_SYN)
	$(THEAD) evaluate facial --video $(dir $(FC_SYN))$(basename $(notdir $(FC_AUDIO))).mp4 \
	  --reference $(FC_REF_VIDEO) -o $(dir $@) --device $(DEVICE) $(FC_EVAL_FLAGS)

$(FC_REPORT): $(FC_EVAL)
	$(THEAD) report $(WORK)/facial -o $@ --timings $(THEAD_TIMINGS) --title "$(FC_TITLE)"
	@echo "report: $@"

# The general FACIAL-GAN from every clip with speech in ../shared/data (silent StyleTalk clips take the .wav beside
# them), written without optimizer state to examples/weights/facial_gan_pretrained.pt.
FC_CORPUS ?= $(wildcard ../shared/data/videos/*.mp4) $(filter-out %.wav %.mp3,$(wildcard ../shared/data/train/videos/*))
FC_PRE_WORK ?= corpus_out
FC_PRE_STEPS ?= 1000

.PHONY: facial-pretrain
facial-pretrain:
	$(THEAD) extract-au $(FC_CORPUS) -o $(FC_PRE_WORK)/au --fps 25 --no-preview $(COMMON)
	THEAD_ALLOW_OUTSIDE=$(abspath ../shared/data):$$THEAD_ALLOW_OUTSIDE \
	  $(THEAD) audio-features $(FC_PRE_WORK)/au/3dmm/manifest.json -o $(FC_PRE_WORK)/audio --kind $(FC_KIND) \
	  --no-preview $(COMMON) || \
	  test $$? -eq 3
	THEAD_ALLOW_OUTSIDE=$(abspath ../shared/data):$$THEAD_ALLOW_OUTSIDE \
	  $(THEAD) train facial-gan --audio $(FC_PRE_WORK)/audio/manifest.json --au $(FC_PRE_WORK)/au/manifest.json \
	  -o $(FC_PRE_WORK)/gan --steps $(FC_PRE_STEPS) --batch-size 16 --device $(DEVICE) --checkpoint-every 200 \
	  $(if $(wildcard $(FC_PRE_WORK)/gan/last.pt),--resume)
	$(PYTHON) -m thead.train.export $(FC_PRE_WORK)/gan/last.pt examples/weights/facial_gan_pretrained.pt \
	  --note "FACIAL-GAN pretrained by thead on the speech clips of ../shared/data (make facial-pretrain)"

# ---- reproduce: FACIAL's Table 1 (LMD, CPBD, AV offset / confidence, blinks) --------------------------------------
#   thead prepare hdtf /data/HDTF -o work/hdtf ; thead weights download wav2vec2-base-960h ; ... download syncnet
#   make -f stages/facial.mk reproduce DATA=work/hdtf GPUS=1 [REPRO_PERSON=corpus_item_id]
# The general FACIAL-GAN learns from every split=train clip with its paper settings (thead/papers.py: 50 epochs,
# batch 64, T = 128, hop 5), then, as the paper does for a target person, one split=test clip (REPRO_PERSON, default
# the first with sound) is the reference: its first 80% fine-tunes FACIAL-GAN (10 epochs, batch 16) and trains the
# rendering-to-video network (pix2pixHD, 512 px, 50 epochs, batch 1, lr decay over the last 30), and its held-out last
# 20% is re-synthesized from its own speech and compared with the real frames (LMD; the paper's test protocol is not
# spelled out, this one is the quality bench's). Audio features: the paper's DeepSpeech role is played by a wav2vec2
# CTC checkpoint (REPRO_AUDIO_KIND=deepspeech; `thead weights download wav2vec2-base-960h`); the SyncNet figures
# need `thead weights download syncnet`, the perceptual loss VGG16 (`vgg16`), all found in the cache by the stages.
FCR := $(REPRO)/facial
REPRO_PERSON ?=
REPRO_AUDIO_KIND ?= deepspeech
REPRO_GAN_FLAGS  ?=
REPRO_TUNE_FLAGS ?=
REPRO_R2V_FLAGS  ?=

.PHONY: reproduce
reproduce: $(FCR)/paper.md

$(REPRO)/%/audio/manifest.json: $(REPRO)/%/au/manifest.json
	$(THEAD) audio-features $(REPRO)/$*/au/3dmm/manifest.json -o $(dir $@) --kind $(REPRO_AUDIO_KIND) --no-preview \
	  $(COMMON) || test $$? -eq 3

$(FCR)/gan/last.pt: $(REPRO)/train/audio/manifest.json $(REPRO)/train/au/manifest.json
	$(TRAIN_RUN) train facial-gan --audio $< --au $(word 2,$^) -o $(dir $@) $$($(PAPER) facial gan) \
	  $(REPRO_TRAIN_OPTS) $(REPRO_GAN_FLAGS) $(REPRO_RESUME)

$(FCR)/ref/split.json: $(REPRO)/corpus/test.json
	mkdir -p $(dir $@)
	$(PYTHON) -m thead.papers split-reference $< $(dir $@) $(REPRO_PERSON) > $@.part
	mv $@.part $@

$(FCR)/ref/au/manifest.json: $(FCR)/ref/split.json
	$(THEAD) extract-au $(FCR)/ref/reference.mp4 -o $(dir $@) --fps 25 --no-preview $(COMMON)

$(FCR)/ref/audio/manifest.json: $(FCR)/ref/au/manifest.json
	$(THEAD) audio-features $(FCR)/ref/au/3dmm/manifest.json -o $(dir $@) --kind $(REPRO_AUDIO_KIND) --no-preview \
	  $(COMMON)

$(FCR)/ref/render/manifest.json: $(FCR)/ref/au/manifest.json
	$(THEAD) render-face $< -o $(dir $@) $$($(PAPER) facial render) $(REPRO_PREP_FLAGS) $(COMMON)

$(FCR)/tuned/last.pt: $(FCR)/gan/last.pt $(FCR)/ref/audio/manifest.json $(FCR)/ref/au/manifest.json
	$(TRAIN_RUN) train facial-gan --audio $(word 2,$^) --au $(word 3,$^) --finetune $< -o $(dir $@) \
	  $$($(PAPER) facial tune) $(REPRO_TRAIN_OPTS) $(REPRO_TUNE_FLAGS) $(REPRO_RESUME)

$(FCR)/r2v/last.pt: $(FCR)/ref/render/manifest.json
	$(TRAIN_RUN) train render2video --manifest $< -o $(dir $@) $$($(PAPER) facial r2v) $(REPRO_TRAIN_OPTS) \
	  $(REPRO_R2V_FLAGS) $(REPRO_RESUME)

$(FCR)/synth/manifest.json: $(FCR)/tuned/last.pt $(FCR)/r2v/last.pt $(FCR)/ref/render/manifest.json
	$(THEAD) synthesize facial --audio $(FCR)/ref/reference.tail.wav --reference $(word 3,$^) \
	  --reference-item reference --facial-gan $< --render2video $(word 2,$^) -o $(dir $@) --device $(DEVICE) \
	  $(FLAGS)

$(FCR)/eval/metrics.json: $(FCR)/synth/manifest.json
	$(THEAD) evaluate facial --video $(FCR)/synth/reference.tail.mp4 --ground-truth $(FCR)/ref/reference.tail.mp4 \
	  --reference $(FCR)/ref/reference.mp4 -o $(dir $@) --device $(DEVICE) $(REPRO_EVAL_FLAGS)

$(FCR)/paper.md: $(FCR)/eval/metrics.json
	$(THEAD) paper-figures facial $< --run $(FCR)/gan --run $(FCR)/tuned --run $(FCR)/r2v $(REPRO_CORPUS_FLAGS) -o $@
