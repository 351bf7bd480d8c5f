"""``thead evaluate gath`` (paper section 5): pixel errors (Table 1), AU errors (Tables 2 and 3) and identity.

Protocol on a target set of frontalized video frames with AU vectors (one video = one subject):
- intra-subject: the source is the subject's first usable frame; each sampled target frame t of the same video is
  synthesized from it with e_t, and compared with frame t itself (the ground truth);
- inter-subject: the source is the next video's first frame (another subject) driven by the same e_t.
Table 1: MAE / RMSE on 0-255 over the full 100x100 image and over the face mask (convex hull of the reference
landmarks), without and with CLAHE on the synthesis. Tables 2/3: RMSE of AU intensities (0-5) between synthesis and
ground-truth frame, both estimated by the same estimator (thead's landmarks -> ICT fit -> FACS chain standing in for
the paper's OpenFace). Identity: dlib face-recognition descriptor distance between source and synthesis (< 0.6: same
person). Writes ``metrics.json`` and ``metrics.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thead.errors import InputError
from thead.metrics import fmt, write_metrics


def _videos(frames_manifest: Path, au_manifest: Path, every: int, max_targets: int):
    """Per video: (id, list of frame PNGs, source index, chosen target indices, expression (T, K))."""
    from thead.media import read_image
    from thead.systems.gath.data import paired_videos

    out = []
    for vid, files, expr, ok in paired_videos(frames_manifest, au_manifest):
        good = [i for i in range(min(len(files), len(expr))) if ok[i] and read_image(files[i]).max() > 0]
        if len(good) < 2:
            continue
        targets = good[1::every][:max_targets]
        out.append((vid, files, good[0], targets, expr))
    if len(out) < 2:
        raise InputError("evaluate gath needs at least two videos with frames and AU vectors (intra + inter)")
    return out


def evaluate(checkpoints: list[Path], frames_manifest: Path, au_manifest: Path, out_dir: Path, every: int = 5,
             max_targets: int = 12, device: str = "cpu", progress: bool = True) -> dict:
    """Evaluate one or more GATH checkpoints (one table row each). Returns the metrics dict (also written)."""
    from rich.console import Console
    from rich.progress import Progress

    from thead.face.facemodel import load_face_model
    from thead.face.frontalize import Frontalizer, face_mask
    from thead.media import read_image
    from thead.metrics.au import ImageAUs
    from thead.metrics.identity import FaceEmbedder, descriptor_distance
    from thead.metrics.pixel import mae_rmse
    from thead.postprocess import clahe
    from thead.systems.gath.synthesize import GathGenerator

    vids = _videos(frames_manifest, au_manifest, every, max_targets)
    mask = face_mask(Frontalizer(load_face_model(), 100))
    au_est, embed = ImageAUs(), FaceEmbedder()
    gt_au_cache: dict[tuple[str, int], np.ndarray] = {}
    rows = {}
    with Progress(console=Console(stderr=True), disable=not progress) as prog:
        for ck in checkpoints:
            G = GathGenerator(ck, device)
            name = f"{G.variant}@{G.step}"
            task = prog.add_task(f"evaluate {name}", total=len(vids))
            acc = {k: [] for k in ("full", "full_clahe", "mask", "mask_clahe")}
            au_err = {"intra": [], "inter": []}
            ident = {"intra": [], "inter": []}
            for vi, (vid, files, src_i, targets, expr) in enumerate(vids):
                for mode in ("intra", "inter"):
                    o_vid, o_files, o_src, _, o_expr = vids[vi] if mode == "intra" else vids[(vi + 1) % len(vids)]
                    source = read_image(o_files[o_src])
                    # a warping G starts from the source frame's own 3DMM coefficients (its AU manifest row)
                    synth = G(source, expr[targets], o_expr[o_src] if G.warps else None)
                    e_src = embed(source)
                    for t, y in zip(targets, synth):
                        gt = read_image(files[t])
                        if mode == "intra":
                            yc = clahe(y)
                            for key, img, m in (("full", y, None), ("full_clahe", yc, None), ("mask", y, mask),
                                                ("mask_clahe", yc, mask)):
                                acc[key].append(mae_rmse(img, gt, m))
                        if (vid, t) not in gt_au_cache:
                            gt_au_cache[(vid, t)] = au_est(gt)
                        d = au_est(y) - gt_au_cache[(vid, t)]
                        if np.isfinite(d).all():
                            au_err[mode].append(d)
                        ident[mode].append(descriptor_distance(e_src, embed(y)))
                prog.advance(task)
            row = {k: {"mae": float(np.mean([a for a, _ in v])), "rmse": float(np.mean([b for _, b in v]))}
                   for k, v in acc.items()}
            for mode in ("intra", "inter"):
                errs = np.array(au_err[mode])
                dist = np.array(ident[mode], np.float64)
                row[f"au_rmse_{mode}"] = float(np.sqrt((errs**2).mean())) if len(errs) else float("nan")
                row[f"au_found_{mode}"] = f"{len(errs)}/{len(ident[mode])}"
                row[f"identity_distance_{mode}"] = float(np.nanmean(dist)) if np.isfinite(dist).any() else None
                row[f"same_person_rate_{mode}"] = float(np.mean(dist[np.isfinite(dist)] < 0.6)) \
                    if np.isfinite(dist).any() else None
            rows[name] = row
    result = {"videos": [v[0] for v in vids], "targets_per_video": max_targets, "every": every, "rows": rows}
    write_metrics(out_dir, result, markdown_tables(result))
    return result


def markdown_tables(result: dict) -> str:
    """GATH Table 1 (pixel MAE/RMSE) and Tables 2/3 (AU RMSE) layouts, one row per evaluated checkpoint."""

    f = fmt
    rows = result["rows"]
    lines = ["# GATH evaluation", "", f"videos: {', '.join(result['videos'])}", "",
             "Table 1: pixel error (0-255), intra-subject", "",
             "| model | full MAE | full RMSE | full+CLAHE MAE | full+CLAHE RMSE | mask MAE | mask RMSE | "
             "mask+CLAHE MAE | mask+CLAHE RMSE |", "|---" * 9 + "|"]
    for name, r in rows.items():
        cells = [f(r[k][m]) for k in ("full", "full_clahe", "mask", "mask_clahe") for m in ("mae", "rmse")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Tables 2 and 3: AU intensity RMSE (0-5) against the ground-truth frame; identity distance "
              "(dlib, < 0.6 = same person)", "",
              "| model | AU RMSE intra | AU RMSE inter | identity dist intra | identity dist inter | "
              "same-person rate intra |", "|---" * 6 + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {f(r['au_rmse_intra'])} | {f(r['au_rmse_inter'])} | "
                     f"{f(r['identity_distance_intra'])} | {f(r['identity_distance_inter'])} | "
                     f"{f(r['same_person_rate_intra'])} |")
    return "\n".join(lines) + "\n"
