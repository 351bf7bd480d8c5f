#!/usr/bin/env bash
# The GPU runs of issues 11 and 12 in one call of a lent machine (one H100, 16 cores, no network), sharing the GPU:
#  - FLNet's ablations (issue 12, part 3): the five variants of bench/quality_flnet.py trained at the same time, each
#    for FL_MIN minutes, with snapshots at each third (scored afterwards on the CPU with --from-runs);
#  - FACIAL's rendering-to-video network in the paper's setting (issue 11): bench/paper_facial_r2v.py train.
# Inputs prepared (packed by bench/pack_crops.py to fit the 64 MiB a call carries) on the CPU machine under .dev/ (crops, 512 px renders, dlib's face ResNet file in a stand-in
# face_recognition_models package) and .whl/ (pydantic wheels for the GPU image's Python); results under $OUT.
set -u
FL_MIN=${FL_MIN:-7}
FC_MIN=${FC_MIN:-6.5}
OUT=${OUT:-/tmp/gpu_out}
DEV=${DEV:-.dev}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
. bench/gpu_common.sh
gpu_env || exit 1
[ "$FC_MIN" = 0 ] || python3 bench/pack_crops.py unpack "$DEV/fc512" || exit 1
export OMP_NUM_THREADS=2
smi_start 2
python3 bench/quality_flnet.py --video none --crops "$DEV/fl128/crops/manifest.json" --minutes "$FL_MIN" --ablations \
  --parallel --curve --no-eval --device "$DEVICE" --work /tmp/flw \
  --batch "${FL_BATCH:-4}" --d-steps "${FL_DSTEPS:-1}" > "$OUT/flnet.log" 2>&1 &
FL=$!
if [ "$FC_MIN" != 0 ]; then  # FC_MIN=0: FLNet only
  sleep 20  # the FLNet processes load first; the FACIAL run then trains beside them
  python3 bench/paper_facial_r2v.py train --train "$DEV/fc512/render/manifest.json" \
    --heldout "$DEV/fc512/render_tail/manifest.json" --minutes "$FC_MIN" --device "$DEVICE" --out /tmp/fcw \
    > "$OUT/facial.log" 2>&1
fi
wait $FL
smi_stop
cp /tmp/fcw/heldout.npz "$OUT/" 2>/dev/null
cp /tmp/fcw/run/samples.png "$OUT/facial_samples.png" 2>/dev/null
cp /tmp/fcw/result.json "$OUT/facial_result.json" 2>/dev/null
# the weights synthesis runs only (G's average, else G; no D, optimizer or image history), one tar per snapshot: each under the 16 MB a file may carry
python3 - <<'EOF2'
import os, tarfile, torch
from pathlib import Path
out = Path(os.environ["OUT"])
for k in (1, 2, 3):
    tmp = Path(f"/tmp/flg{k}")
    for run in sorted(Path("/tmp/flw").glob("run-*")):
        pt = run / f"snap{k}.pt"
        if not pt.is_file():
            continue
        b = torch.load(pt, map_location="cpu", weights_only=True)
        m = b["models"]
        b["models"] = {"G_ema": m["G_ema"]} if "G_ema" in m else {"G": m["G"]}  # what synthesis runs
        b["optimizers"], b["rng"], b["extra"] = {}, {}, {}
        dst = tmp / run.name / pt.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.save(b, dst)
        if k == 3:
            for f in run.iterdir():
                if f.suffix in (".json", ".jsonl", ".txt"):
                    (tmp / run.name / f.name).write_bytes(f.read_bytes())
    with tarfile.open(out / f"flnet_snap{k}.tar", "w") as t:
        t.add(tmp, arcname="runs")
    print(f"flnet_snap{k}.tar", round(os.path.getsize(out / f"flnet_snap{k}.tar") / 1e6, 1), "MB")
EOF2
tail -3 "$OUT/flnet.log"; [ -f "$OUT/facial.log" ] && tail -22 "$OUT/facial.log"
smi_summary
touch "$OUT/facial.log"; tar -C "$OUT" -cf "$OUT/logs.tar" smi.csv flnet.log facial.log && rm "$OUT/smi.csv" "$OUT/flnet.log" "$OUT/facial.log"
ls -la "$OUT"
