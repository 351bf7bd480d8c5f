"""GATH quality on portraits of people it never saw: neutralization, smile, identity -- and the learning curve.

    python bench/quality_gath.py --portraits DIR --minutes 60 --json out.json [--checkpoint CKPT] [--work W]

Without ``--checkpoint`` it builds the training corpus from ../shared/data (every photo and clip except the
``portraits/`` folder, the default test set; see ``gath_common.build_corpus``), de-duplicates the source set by
person (dlib descriptors, average-linkage clusters at distance 0.5), trains the AU estimator (1/6 of the budget) and
GATH (the rest), and scores a snapshot of G at every quarter of its budget (the learning curve). Every portrait in
DIR is then frontalized and synthesized with ``--au zeros`` and ``--au AU12_r=3``; thead's AU chain (dlib landmarks
-> ICT fit -> FACS, OpenFace's 0-5 scale) measures input and outputs.

JSON keys (floats): ``neutralize_drop`` (mean relative drop of AU12+AU25+AU26 under ``--au zeros`` over portraits
whose sum is >= 2), ``smile_gain`` (mean AU12 gain under ``--au AU12_r=3`` over portraits whose AU12 < 1.5),
``identity_distance`` (mean dlib distance of both outputs to the input crop), ``wall_minutes`` (corpus build +
training + scoring), plus ``curve`` (the three figures per snapshot, with minutes of G training), ``corpus``
(identities and frames per set) and ``portraits`` (the per-portrait table, also printed). A contact sheet PNG
(input | zeros | AU12=3 | zeros pasted back) lands beside the JSON.

Budget split and sizes: ``--minutes`` covers the training only (the corpus build is cached in ``--work`` and its time
reported apart). Batch 16, width 32 by default: the paper trains batch 64, width 64 on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from gath_common import SHARED, build_corpus

MOUTH = ("AU12_r", "AU25_r", "AU26_r")


def label_identities(frames_manifest: Path, threshold: float = 0.5) -> tuple[Path, dict]:
    """Write ``manifest.identity.json`` beside ``frames_manifest`` with ``meta.identity`` per item: average-linkage
    clusters of dlib descriptors (distance < threshold = same person) of each item's middle crop."""
    import cv2
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    from thead.manifest import load_manifest
    from thead.media import read_image
    from thead.metrics.identity import FaceEmbedder
    from thead.systems.gath.data import _item_frames

    lm = load_manifest(frames_manifest, "thead.frames")
    emb = FaceEmbedder()
    ids, descs = [], []
    for it in lm.done():
        files = _item_frames(lm, it)
        if not files:
            continue
        img = read_image(files[len(files) // 2])
        if img.max() == 0:
            continue
        d = emb(cv2.resize(img, (200, 200), interpolation=cv2.INTER_CUBIC))
        ids.append(it.id)
        descs.append(d)
    known = [i for i, d in enumerate(descs) if d is not None]
    label = {i: f"person{i:03d}" for i in range(len(ids))}
    if len(known) > 1:
        z = linkage(pdist(np.stack([descs[i] for i in known])), "average")
        for i, c in zip(known, fcluster(z, threshold, "distance")):
            label[i] = f"person{int(c):03d}"
    raw = json.loads(frames_manifest.read_text())
    by_id = {ids[i]: label[i] for i in range(len(ids))}
    for item in raw["items"]:
        if item["id"] in by_id:
            item.setdefault("meta", {})["identity"] = by_id[item["id"]]
    out = frames_manifest.with_name("manifest.identity.json")
    out.write_text(json.dumps(raw, indent=1))
    return out, by_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portraits", type=Path, default=SHARED / "portraits", help="folder of test portraits")
    ap.add_argument("--minutes", type=float, default=60.0, help="training budget (AU estimator + GATH)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=None, help="score this 'train gath' checkpoint, no training")
    ap.add_argument("--work", type=Path, default=None, help="work folder (corpus cache, runs); default: a temp dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--lambda-expr", type=float, default=None, help="override TrainConfig.lambda_expr")
    ap.add_argument("--edit-fraction", type=float, default=None, help="override TrainConfig.edit_fraction")
    ap.add_argument("--upsample", default=None, help="override TrainConfig.upsample")
    ap.add_argument("--output", default=None, help="override TrainConfig.output (residual | attention | direct)")
    ap.add_argument("--lambda-att", type=float, default=None, help="override TrainConfig.lambda_att")
    ap.add_argument("--bn-stats", default="input", choices=("running", "input"),
                    help="BatchNorm statistics at synthesis (synthesize gath --bn-stats); the final checkpoint is "
                    "also scored with the other one, under the key bn_stats_other")
    ap.add_argument("--refine", type=int, default=None, help="synthesize gath --refine (default: its own)")
    ap.add_argument("--snapshots", type=int, default=4, help="learning-curve points over the GATH budget")
    a = ap.parse_args()

    import numpy as np

    from thead.face.au import AU_COLUMNS
    from thead.media import read_image, write_image
    from thead.metrics.au import ImageAUs
    from thead.metrics.identity import FaceEmbedder, descriptor_distance
    from thead.systems.gath.synthesize import run as synth_run
    from thead.systems.gath.train import AUE_LR, TrainConfig, train_aue, train_gath

    t_start = time.perf_counter()
    work = a.work or Path(tempfile.mkdtemp(prefix="thead-quality-gath-"))
    work.mkdir(parents=True, exist_ok=True)
    portraits = sorted(p for p in a.portraits.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not portraits:
        raise SystemExit(f"{a.portraits}: no .png/.jpg portraits")
    result: dict = dict(machine_cores=os.cpu_count(), device=a.device, budget_minutes=a.minutes, batch=a.batch,
                        width=a.width)
    snapshots: list[tuple[float, Path]] = []
    if a.checkpoint is None:
        t0 = time.perf_counter()
        frames, au = build_corpus(work / "corpus", progress=False)
        source, by_id = label_identities(frames)
        result["corpus_build_minutes"] = (time.perf_counter() - t0) / 60
        from thead.systems.gath.data import load_source_set, load_target_set

        src, tgt = load_source_set(source, max_per_item=10), load_target_set(frames, au)
        result["corpus"] = dict(source_identities=len(src.classes), source_images=len(src.images),
                                source_items=len(by_id), target_videos=len(tgt.classes), target_frames=len(tgt.images))
        print(f"corpus: {result['corpus']} (built in {result['corpus_build_minutes']:.1f} min)")
        del src, tgt
        budget = a.minutes * 60
        over = {k: v for k, v in dict(lambda_expr=a.lambda_expr, edit_fraction=a.edit_fraction,
                                      upsample=a.upsample, output=a.output,
                                      lambda_att=a.lambda_att).items() if v is not None}

        def timed(fn, seconds: float, cfg: TrainConfig, on_snapshot=None):
            """Train for ``seconds`` of wall clock (the trainers' --time-limit, so other work sharing the cores costs
            steps, not budget), in N resumed chunks of equal time with ``on_snapshot`` after each."""
            from thead.train.checkpoint import load_checkpoint

            t = time.perf_counter()
            n = a.snapshots if on_snapshot else 1
            cfg.steps = 10**7
            for k in range(1, n + 1):
                cfg.time_limit_s = max((seconds - (time.perf_counter() - t)) / (n - k + 1), 1.0)
                ck = fn(cfg, k > 1)
                steps = int(load_checkpoint(ck)["step"])
                if on_snapshot:
                    on_snapshot(k, ck, steps)
            return ck, steps

        t0 = time.perf_counter()
        aue_cfg = TrainConfig(batch_size=a.batch, width=a.width, device=a.device, checkpoint_every=100, lr=AUE_LR)
        aue, n_aue = timed(lambda c, r: train_aue(frames, au, work / "aue", c, r, False), budget / 6, aue_cfg)
        print(f"AU estimator: {n_aue} steps in {(time.perf_counter() - t0) / 60:.1f} min")
        t_g = time.perf_counter()
        g_time = [0.0]

        def snap(k, ck, steps):
            import shutil

            g_time[0] = (time.perf_counter() - t_g) / 60
            dst = work / "snapshots" / f"gath-{k}.pt"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ck, dst)
            snapshots.append((g_time[0], dst, steps))

        cfg = TrainConfig(batch_size=a.batch, width=a.width, device=a.device, checkpoint_every=100, max_per_item=10,
                          **over)
        result["train_config"] = {k: getattr(cfg, k) for k in ("lambda_au", "au_norm", "lambda_expr", "lambda_rec",
                                                                "lambda_tv",
                                                                "lambda_adv", "lambda_cls", "edit_fraction",
                                                                "upsample", "output", "lambda_att", "lr")}
        ck, n_g = timed(lambda c, r: train_gath(source, frames, au, aue, work / "gath", c, r, False),
                        budget * 5 / 6, cfg, snap)
        print(f"GATH: {n_g} steps in {(time.perf_counter() - t_g) / 60:.1f} min")
        result.update(aue_steps=n_aue, gath_steps=n_g, train_minutes=(time.perf_counter() - t0) / 60)
    else:
        snapshots.append((float("nan"), a.checkpoint, -1))

    au_est, emb = ImageAUs(), FaceEmbedder()
    mouth = [AU_COLUMNS.index(c) for c in MOUTH]
    au12 = AU_COLUMNS.index("AU12_r")

    def score(ck: Path, tag: str, bn_stats: str = a.bn_stats) -> tuple[dict, list, list]:
        rows, sheet = [], []
        outs = {}
        for au_spec, name in (("zeros", "zeros"), ("AU12_r=3", "smile")):
            out = work / "score" / tag / name
            extra = {} if a.refine is None else dict(refine=a.refine)
            synth_run(portraits, out, ck, au_spec, paste_back=(name == "zeros"), progress=False, bn_stats=bn_stats,
                      **extra)
            m = json.loads((out / "manifest.json").read_text())
            outs[name] = (out, {it["id"]: it for it in m["items"]})
        for p in portraits:
            out_z, items_z = outs["zeros"]
            out_s, items_s = outs["smile"]
            iz, is_ = items_z.get(p.stem), items_s.get(p.stem)
            if not iz or iz.get("status") != "done" or not is_ or is_.get("status") != "done":
                rows.append(dict(portrait=p.name, error="no face"))
                continue
            face = read_image(out_z / iz["outputs"]["frontal"])
            zeros = read_image(out_z / iz["outputs"]["image"])
            smile = read_image(out_s / is_["outputs"]["image"])
            a_in, a_z, a_s = au_est(face), au_est(zeros), au_est(smile)
            e_in = emb(face)
            row = dict(portrait=p.name, mouth_in=float(a_in[mouth].sum()), mouth_zeros=float(a_z[mouth].sum()),
                       au12_in=float(a_in[au12]), au12_smile=float(a_s[au12]),
                       id_zeros=descriptor_distance(e_in, emb(zeros)), id_smile=descriptor_distance(e_in, emb(smile)))
            rows.append(row)
            if "pasted" in iz["outputs"]:
                import cv2

                pasted = read_image(out_z / iz["outputs"]["pasted"])
                pasted = cv2.resize(pasted, (int(100 * pasted.shape[1] / pasted.shape[0]), 100),
                                    interpolation=cv2.INTER_AREA)
                sheet.append((face, zeros, smile, pasted))
        # an output on which no face is found scores as no change (drop 0, gain 0), not as a gap
        ok = [r for r in rows if "error" not in r and np.isfinite(r["mouth_in"])]
        exp = [r for r in ok if r["mouth_in"] >= 2]
        neu = [r for r in ok if r["au12_in"] < 1.5]
        for r in ok:
            r["mouth_zeros"] = r["mouth_zeros"] if np.isfinite(r["mouth_zeros"]) else r["mouth_in"]
            r["au12_smile"] = r["au12_smile"] if np.isfinite(r["au12_smile"]) else r["au12_in"]
        ids = [d for r in ok for d in (r["id_zeros"], r["id_smile"]) if np.isfinite(d)]
        figs = dict(
            neutralize_drop=float(np.mean([(r["mouth_in"] - r["mouth_zeros"]) / r["mouth_in"] for r in exp]))
            if exp else float("nan"),
            smile_gain=float(np.mean([r["au12_smile"] - r["au12_in"] for r in neu])) if neu else float("nan"),
            identity_distance=float(np.mean(ids)) if ids else float("nan"),
            n_expressive=len(exp), n_not_smiling=len(neu), n_scored=len(ok))
        return figs, rows, sheet

    curve = []
    for minutes, ck, steps in snapshots:
        figs, rows, sheet = score(ck, ck.stem)
        curve.append(dict(gath_minutes=minutes, steps=steps, **{k: figs[k] for k in ("neutralize_drop", "smile_gain",
                                                                                      "identity_distance")}))
        print(f"  snapshot {ck.stem}: {minutes:.1f} min, {steps} steps: drop {figs['neutralize_drop']:.3f}, "
              f"smile gain {figs['smile_gain']:.3f}, identity {figs['identity_distance']:.3f}")
    result.update(figs, curve=curve, portraits=rows, wall_minutes=(time.perf_counter() - t_start) / 60,
                  bn_stats=a.bn_stats)
    other = "input" if a.bn_stats == "running" else "running"
    o_figs, o_rows, o_sheet = score(snapshots[-1][1], snapshots[-1][1].stem + "-" + other, other)
    result["bn_stats_other"] = dict(bn_stats=other, **o_figs)
    print(f"  final checkpoint with --bn-stats {other}: drop {o_figs['neutralize_drop']:.3f}, smile gain "
          f"{o_figs['smile_gain']:.3f}, identity {o_figs['identity_distance']:.3f}")

    print(f"\n{'portrait':<28} {'AU12+25+26 in':>13} {'zeros':>6} {'AU12 in':>8} {'AU12=3':>7} {'id zeros':>9} "
          f"{'id smile':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['portrait']:<28} {r['error']}")
            continue
        print(f"{r['portrait']:<28} {r['mouth_in']:>13.2f} {r['mouth_zeros']:>6.2f} {r['au12_in']:>8.2f} "
              f"{r['au12_smile']:>7.2f} {r['id_zeros']:>9.3f} {r['id_smile']:>9.3f}")
    print(f"\nneutralize_drop {result['neutralize_drop']:.3f} (target >= 0.4, n={figs['n_expressive']})  "
          f"smile_gain {result['smile_gain']:.3f} (>= 1.0, n={figs['n_not_smiling']})  "
          f"identity_distance {result['identity_distance']:.3f} (<= 0.5)  wall {result['wall_minutes']:.1f} min "
          f"on {os.cpu_count()} cores")
    for rows_sheet, suffix in ((sheet, ".png"), (o_sheet, f".bn-{other}.png")):
        if not rows_sheet:
            continue
        w = max(s[3].shape[1] for s in rows_sheet)
        pad = [np.pad(s[3], ((0, 0), (0, w - s[3].shape[1]), (0, 0))) for s in rows_sheet]
        img = np.concatenate([np.concatenate([f, z, s, p], 1) for (f, z, s, _), p in zip(rows_sheet, pad)], 0)
        png = (a.json.with_suffix(suffix) if a.json else work / f"quality_gath{suffix}")
        write_image(png, img)
        print(f"contact sheet (input | zeros | AU12=3 | zeros pasted): {png}")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2, default=float))
        print(f"JSON: {a.json}")


if __name__ == "__main__":
    main()
