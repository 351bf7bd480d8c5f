#!/usr/bin/env bash
# FLNet's general model (examples/weights/flnet_pretrained.pt) trained on a lent GPU (one H100, 16 cores, no
# network) in one call: the crops of ../shared/data less the FLNet bench clips, made here with
#   thead crop-faces $(cat inputs) --size 128 -o crops   then   python bench/pack_crops.py pack crops .dev/flcorpus
# (PNG folders carried as lossless-ish x264 4:4:4 to fit the 64 MiB a call carries), pydantic wheels in .whl/, and
# dlib's face ResNet file in a stand-in face_recognition_models package under .dev/site (the perceptual loss).
# Writes under $OUT: flnet_pretrained.pt (weights only), log.jsonl, samples.png, loss.png, smi.csv.
set -u
OUT=${OUT:-/tmp/gpu_out}
DEV=${DEV:-.dev}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-6.5}
BATCH=${BATCH:-16}
mkdir -p "$OUT"
. bench/gpu_common.sh
gpu_env || exit 1
python3 bench/pack_crops.py unpack "$DEV/flcorpus" || exit 1
smi_start 2
python3 -m thead train flnet --manifest "$DEV/flcorpus/manifest.json" -o /tmp/flpre --holdout 0 --width 16 \
  --d-width 16 --batch-size "$BATCH" --d-steps 1 --steps 1000000 --time-limit "$MINUTES" --checkpoint-every 1000 \
  --device "$DEVICE" --no-progress > "$OUT/train.log" 2>&1
rc=$?
smi_stop
python3 -m thead.train.export /tmp/flpre/last.pt "$OUT/flnet_pretrained.pt" \
  --note "FLNet (full, 5B, width 16, 128 px) pretrained by thead on the people of ../shared/data less the FLNet bench clips (bench/gpu_flnet_pretrain.sh)"
for f in log.jsonl samples.png loss.png config.json; do cp "/tmp/flpre/$f" "$OUT/" 2>/dev/null; done
tail -5 "$OUT/train.log"; tail -2 /tmp/flpre/log.jsonl
smi_summary
ls -la "$OUT"
exit $rc
