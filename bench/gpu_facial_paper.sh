#!/usr/bin/env bash
# FACIAL's rendering-to-video network in the paper's setting, the full 50 epochs (issue 11), in one call of a lent
# GPU machine (one H100, 16 cores, no network): bench/paper_facial_r2v.py train with bf16 autocast, the held-out L1
# every CURVE steps, nvidia-smi sampled every second. Inputs made here first:
#   thead extract-au head.mp4 / tail.mp4 --fps 25 ; thead render-face ... --size 512 (head: the reference's first
#   180 frames at 25 fps; tail: 48 frames of its last 20%, fitted on their own)
#   python bench/pack_crops.py pack RENDER .dev/fc512/render ; ... RENDER_TAIL .dev/fc512/render_tail
#   pydantic's wheels for the GPU image's Python in .whl/; dlib's face ResNet file in a stand-in
#   face_recognition_models package under .dev/site (the perceptual loss).
# Writes under $OUT: result.json, heldout.npz, samples.png, log.jsonl, smi.csv, facial.log. Score here with
#   python bench/paper_facial_r2v.py score OUT/heldout.npz --json bench/results/facial_paper_gpu_full.json
set -u
OUT=${OUT:-/tmp/gpu_out}
DEV=${DEV:-.dev}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-8}
CURVE=${CURVE:-1500}
mkdir -p "$OUT"
. bench/gpu_common.sh
gpu_env || exit 1
python3 bench/pack_crops.py unpack "$DEV/fc512" || exit 1
smi_start 1
python3 bench/paper_facial_r2v.py train --train "$DEV/fc512/render/manifest.json" \
  --heldout "$DEV/fc512/render_tail/manifest.json" --minutes "$MINUTES" --amp --curve-every "$CURVE" \
  --device "$DEVICE" --out /tmp/fcw ${RESUME:+--resume} > "$OUT/facial.log" 2>&1
rc=$?
smi_stop
for f in result.json heldout.npz; do cp "/tmp/fcw/$f" "$OUT/" 2>/dev/null; done
for f in samples.png log.jsonl; do cp "/tmp/fcw/run/$f" "$OUT/" 2>/dev/null; done
tail -30 "$OUT/facial.log"
smi_summary
ls -la "$OUT"
exit $rc
