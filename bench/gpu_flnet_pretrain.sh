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
[ -n "${SKIP_WHL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD:$DEV/site THEAD_ALLOW_OUTSIDE=/ PYTHONUNBUFFERED=1
python3 bench/pack_crops.py unpack "$DEV/flcorpus" || exit 1
(nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv,noheader -l 2 > "$OUT/smi.csv" 2>/dev/null &)
python3 -m thead train flnet --manifest "$DEV/flcorpus/manifest.json" -o /tmp/flpre --holdout 0 --width 16 \
  --d-width 16 --batch-size "$BATCH" --d-steps 1 --steps 1000000 --time-limit "$MINUTES" --checkpoint-every 1000 \
  --device "$DEVICE" --no-progress > "$OUT/train.log" 2>&1
rc=$?
pkill -f "nvidia-smi --query-gpu" 2>/dev/null
python3 -m thead.train.export /tmp/flpre/last.pt "$OUT/flnet_pretrained.pt" \
  --note "FLNet (full, 5B, width 16, 128 px) pretrained by thead on the people of ../shared/data less the FLNet bench clips (bench/gpu_flnet_pretrain.sh)"
for f in log.jsonl samples.png loss.png config.json; do cp "/tmp/flpre/$f" "$OUT/" 2>/dev/null; done
tail -5 "$OUT/train.log"; tail -2 /tmp/flpre/log.jsonl
awk -F', ' '{gsub(/ %/,"",$2); s+=$2; n++} END {if (n) print "GPU utilisation mean", s/n, "% over", n, "samples"}' "$OUT/smi.csv"
ls -la "$OUT"
exit $rc
