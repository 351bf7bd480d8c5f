# Sourced by the one-call GPU scripts (bench/gpu_session.sh, gpu_flnet_pretrain.sh, gpu_facial_paper.sh): what every
# call on a lent machine (no network; the image's own torch) sets up, and the GPU utilisation it reports.
# Needs OUT (results folder) and DEV (inputs prepared here: .dev) set by the caller.

# pydantic's wheels from .whl/ into /tmp/site (unless SKIP_WHL is set: a warm machine has them), then the
# environment thead runs in there: the repo, dlib's face ResNet file in a stand-in face_recognition_models package
# under $DEV/site, paths anywhere allowed, unbuffered output.
gpu_env() {
  [ -n "${SKIP_WHL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || return 1
  export PYTHONPATH=/tmp/site:$PWD:$DEV/site THEAD_ALLOW_OUTSIDE=/ PYTHONUNBUFFERED=1
}

# nvidia-smi sampled every ${1:-2} s into $OUT/smi.csv (name, utilisation, memory used), in the background.
smi_start() {
  (nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv,noheader -l "${1:-2}" > "$OUT/smi.csv" \
    2>/dev/null &)
}

smi_stop() {
  pkill -f "nvidia-smi --query-gpu" 2>/dev/null
}

# The mean utilisation over the samples of $OUT/smi.csv.
smi_summary() {
  awk -F', ' '{gsub(/ %/,"",$2); s+=$2; n++} END {if (n) print "GPU utilisation mean", s/n, "% over", n, "samples"}' \
    "$OUT/smi.csv"
}
