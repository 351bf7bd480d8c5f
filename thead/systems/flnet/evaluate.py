"""``thead evaluate flnet`` (paper "Quantitative evaluation", Table 1) on held-back frames.

Protocol: for every person in a crop manifest, the bank is chosen (as in training: ``bank_pool`` evenly spaced by
mouth openness, the first ``bank_size`` kept) from the frames the model was trained on (the first 1 - ``holdout`` of
each clip), and every ``every``-th held-back frame (the clip's tail, never seen in training) is a target: the model
gets its landmarks and its ground-truth crop is the reference. Metrics per model:

- L1: mean absolute error on 0-255 over the whole crop (the paper's L1), and split by region (thead's):
  ``l1_face`` inside the target's face (``paste.face_mask``: the hull of the jaw line and the eyebrows raised by a
  quarter of the face height) and ``l1_background`` outside it (hair, neck, backdrop: about two thirds of a crop at
  thead's 2.8 x scale). The split shows where a model gains: in thead's 30-minute CPU ablations the 5-image bank
  beat the 1-image bank inside the face on both clips measured and lost outside it on one (issue 12 note);
- FD-dlib: Fréchet distance between the dlib face-descriptor embeddings (128-D) of generated and ground-truth
  crops; not FID, which needs Inception weights;
- FID: only with ``inception_weights`` (pytorch-fid's file);
- LMD: mean distance (px at the crop size) between dlib landmarks found on the generated crop and the target
  landmarks, over the frames where a face is found (the found fraction is reported);
- identity: mean dlib descriptor distance between generated and ground-truth crops, and the fraction under 0.6;
- mouth r: Pearson correlation over the targets between the mouth opening found by dlib on the generated crop and
  the target landmarks' (inner-lip distance, ibug 62-66, over the inter-ocular distance), with both openings' standard
  deviations (their ratio is the motion's amplitude);
- what the same dlib measurements give on the ground-truth crops of the same targets: ``gt_landmarks_found``,
  ``gt_faces_embedded`` (a face that fills or leaves the crop is missed on real frames too) and ``mouth_r_ceiling``
  (dlib's mouth opening on the real crops against the target landmarks: the most ``mouth_r`` can show on these
  targets; near zero when the tail's mouth barely moves, where ``mouth_r`` measures landmark noise);
- ``fd_dlib_sd``: the bootstrap standard deviation of FD-dlib over the targets (``frechet_bootstrap_sd``).

Writes ``metrics.json``, ``metrics.md`` and ``<row>.compare.png`` (ground truth over generated, a few targets).
Fréchet distances over few samples are biased upwards; compare rows evaluated on the same targets only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError
from thead.metrics import fmt, write_metrics
from thead.manifest.paths import item_path
from thead.runner import safe_id


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip distance (ibug 62-66) over the inter-ocular distance of one face's (68, 2) landmarks (NaN when
    they are not finite)."""
    from thead.face.landmarks import interocular

    lm = np.asarray(landmarks, np.float64)
    if not np.isfinite(lm).all():
        return float("nan")
    return float(np.linalg.norm(lm[62] - lm[66]) / max(float(interocular(lm)), 1e-6))


def mouth_agreement(found: list[float], target: list[float]) -> dict:
    """``mouth_r`` (Pearson r of generated vs target mouth openings where both are finite; NaN with fewer than 3 such
    frames or a still series), ``mouth_std`` (of the finite generated openings) and ``target_mouth_std`` (of the
    finite target openings)."""
    a, b = np.asarray(found, np.float64), np.asarray(target, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    nan = float("nan")
    out = dict(mouth_r=nan, mouth_std=float(np.std(a[np.isfinite(a)])) if np.isfinite(a).any() else nan,
               target_mouth_std=float(np.std(b[np.isfinite(b)])) if np.isfinite(b).any() else nan)
    if ok.sum() >= 3 and np.std(a[ok]) > 1e-9 and np.std(b[ok]) > 1e-9:
        out["mouth_r"] = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return out



def copy_baselines(manifest: Path, holdout: float, every: int = 1, max_targets: int = 40) -> dict:
    """What copying a real frame scores, on the targets ``evaluate`` uses: for every held-back target, L1 (0-255,
    whole crop) of (a) the training frame of the same person whose landmarks are nearest to the target's (mean
    absolute px distance; the nearest-neighbour retrieval baseline of reenactment papers) and (b) the training frame
    with the lowest L1 itself (an oracle: no landmark-driven model that copies one real frame does better). They tell
    how far a clip's held-back tail lies from what the model saw (pose, light, hair), i.e. which L1 is reachable.

    Returns:
        ``l1_copy_nearest`` and ``l1_copy_best`` (means over targets), ``mouth_r_copy_nearest`` (Pearson r of the
        nearest frame's mouth opening against the target's, both from the manifest's landmarks: how much of the
        tail's mouth motion retrieval from the training frames follows; NaN as in ``mouth_agreement``) and
        ``n_targets``.

    Raises:
        InputError: no held-back frame, or a person with no training frame.
    """
    from thead.systems.flnet.bank import load_crop_clips

    by_person: dict[str, list] = {}
    for c in load_crop_clips(manifest):
        by_person.setdefault(c.identity, []).append(c)
    nearest, best, mouth_near, mouth_target = [], [], [], []
    for person, pcs in by_person.items():
        targets = [(c, i) for c in pcs for i in c.split(holdout)[1][::every]][:max_targets]
        if not targets:
            continue
        train = [(c, i) for c in pcs for i in c.split(holdout)[0]]
        if not train:
            raise InputError(f"{manifest}: {person} has no training frames for the copy baselines")
        frames = np.stack([c.read([i])[0] for c, i in train]).astype(np.int16)  # (N, S, S, 3)
        lmk = np.stack([c.landmarks[i] for c, i in train])
        for c, i in targets:
            gt = c.read([i])[0].astype(np.int16)
            l1 = np.abs(frames - gt).mean(axis=(1, 2, 3))
            k = int(np.argmin(np.abs(lmk - c.landmarks[i]).mean(axis=(1, 2))))
            nearest.append(float(l1[k]))
            best.append(float(l1.min()))
            mouth_near.append(mouth_opening(lmk[k]))
            mouth_target.append(mouth_opening(c.landmarks[i]))
    if not nearest:
        raise InputError(f"{manifest}: no held-back frames with a face (holdout {holdout})")
    return dict(l1_copy_nearest=float(np.mean(nearest)), l1_copy_best=float(np.mean(best)),
                mouth_r_copy_nearest=mouth_agreement(mouth_near, mouth_target)["mouth_r"], n_targets=len(nearest))

def _row_name(model, names: set) -> str:
    base = f"{model.variant}-{model.bank_size}B@{model.step}"
    name, k = base, 2
    while name in names:
        name, k = f"{base}#{k}", k + 1
    return name


def evaluate(checkpoints: list[Path], manifest: Path, out_dir: Path, every: int = 1, max_targets: int = 40,
             holdout: Optional[float] = None, inception_weights: Optional[Path] = None, device: str = "cpu",
             progress: bool = True) -> dict:
    """Evaluate FLNet checkpoints (one Table-1 row each) on the held-back frames of a crop manifest.

    Args:
        holdout: held-back fraction of each clip (default: each checkpoint's training ``holdout``).

    Returns:
        the metrics dict (also written to ``out_dir/metrics.json``).

    Raises:
        InputError: no held-back frames, mismatched crop size, bad weights.
    """
    from rich.console import Console
    from rich.progress import Progress

    from thead.face.paste import face_mask
    from thead.media import write_image
    from thead.metrics.frechet import frechet_bootstrap_sd, frechet_distance
    from thead.metrics.identity import SAME_PERSON_DISTANCE, FaceEmbedder, descriptor_distance
    from thead.metrics.inception import FIDInceptionV3, inception_features
    from thead.metrics.landmarks import LandmarkFinder, landmark_distance
    from thead.systems.flnet.bank import bank_from_clips, load_crop_clips
    from thead.systems.flnet.synthesize import FLNetModel
    from thead.viz import contact_sheet

    from thead import zoo

    clips = load_crop_clips(manifest)
    inception_weights = zoo.find("inception", inception_weights)
    inception = FIDInceptionV3.from_file(inception_weights) if inception_weights else None
    embed, finder = FaceEmbedder(), LandmarkFinder()
    gt_emb: dict[tuple[str, int], Optional[np.ndarray]] = {}
    gt_open: dict[tuple[str, int], float] = {}  # dlib's mouth opening on the ground-truth crop (NaN: no face)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    evaluated: set[str] = set()
    by_person: dict[str, list] = {}
    for c in clips:
        by_person.setdefault(c.identity, []).append(c)
    with Progress(console=Console(stderr=True), disable=not progress) as prog:
        for ckpt in checkpoints:
            model = FLNetModel(ckpt, device)
            if model.size != clips[0].size:
                raise InputError(f"{ckpt}: trained on {model.size} px crops, the manifest has {clips[0].size} px")
            h = model.holdout if holdout is None else holdout
            if h <= 0:
                raise InputError(f"{ckpt}: trained without held-back frames (--holdout 0); give --holdout")
            name = _row_name(model, set(rows))
            gen_all, gt_all, l1, lmd, ids, e_gen, e_gt, found = [], [], [], [], [], [], [], 0
            err_face, err_bg = [0.0, 0], [0.0, 0]  # sum over pixels of the channel-mean |error|, pixel count
            open_gen, open_gt, open_real = [], [], []
            jobs = []
            for person, pcs in by_person.items():
                targets = [(c, i) for c in pcs for i in c.split(h)[1][::every]][:max_targets]
                if targets:
                    jobs.append((person, pcs, targets))
                    evaluated.add(person)
            n_targets = sum(len(t) for _, _, t in jobs)
            if n_targets == 0:
                raise InputError(f"{manifest}: no held-back frames with a face (holdout {h})")
            task = prog.add_task(f"evaluate {name}", total=n_targets)
            for person, pcs, targets in jobs:
                bank = bank_from_clips(pcs, model.bank_pool, model.bank_size, (0.0, 1.0 - h))
                lmk = np.stack([c.landmarks[i] for c, i in targets])
                for (c, i), fr in zip(targets, model(bank, lmk)):
                    gt = c.read([i])[0]
                    out = fr["output"]
                    err = np.abs(out.astype(np.float64) - gt).mean(-1)
                    l1.append(err.mean())
                    inside = face_mask(err.shape, c.landmarks[i]) > 0
                    err_face[0] += err[inside].sum()
                    err_face[1] += int(inside.sum())
                    err_bg[0] += err[~inside].sum()
                    err_bg[1] += int((~inside).sum())
                    f = finder(out)
                    found += int(np.isfinite(f).all())
                    lmd.append(float(landmark_distance(f[None], c.landmarks[i][None])[0]))
                    open_gen.append(mouth_opening(f))
                    open_gt.append(mouth_opening(c.landmarks[i]))
                    if (c.id, i) not in gt_emb:
                        gt_emb[(c.id, i)] = embed(gt)
                        gt_open[(c.id, i)] = mouth_opening(finder(gt))
                    open_real.append(gt_open[(c.id, i)])
                    eg, et = embed(out), gt_emb[(c.id, i)]
                    ids.append(descriptor_distance(eg, et))
                    if eg is not None:
                        e_gen.append(eg)
                    if et is not None:
                        e_gt.append(et)
                    if inception is not None or len(gen_all) < 8:
                        gen_all.append(out)
                        gt_all.append(gt)
                    prog.advance(task)
            ids_a, lmd_a = np.array(ids), np.array(lmd)
            row = dict(checkpoint=str(ckpt), variant=model.variant, bank_size=model.bank_size, step=model.step,
                       holdout=h, n_targets=n_targets, l1=float(np.mean(l1)),
                       l1_face=err_face[0] / err_face[1] if err_face[1] else float("nan"),
                       l1_background=err_bg[0] / err_bg[1] if err_bg[1] else float("nan"),
                       fd_dlib=frechet_distance(np.stack(e_gen), np.stack(e_gt)) if min(len(e_gen), len(e_gt)) > 1
                       else float("nan"),
                       lmd_px=float(np.nanmean(lmd_a)) if np.isfinite(lmd_a).any() else float("nan"),
                       landmarks_found=found / n_targets,
                       identity_distance=float(np.nanmean(ids_a)) if np.isfinite(ids_a).any() else float("nan"),
                       same_person_rate=float(np.mean(ids_a[np.isfinite(ids_a)] < SAME_PERSON_DISTANCE))
                       if np.isfinite(ids_a).any() else float("nan"),
                       faces_embedded=len(e_gen) / n_targets, **mouth_agreement(open_gen, open_gt))
            row.update(fd_dlib_sd=frechet_bootstrap_sd(np.stack(e_gen), np.stack(e_gt))
                       if min(len(e_gen), len(e_gt)) > 1 else float("nan"),
                       gt_landmarks_found=float(np.isfinite(open_real).mean()), gt_faces_embedded=len(e_gt) / n_targets,
                       mouth_r_ceiling=mouth_agreement(open_real, open_gt)["mouth_r"])
            if inception is not None:
                row["fid"] = frechet_distance(inception_features(inception, np.stack(gen_all), device=device),
                                              inception_features(inception, np.stack(gt_all), device=device))
            k = min(8, len(gen_all))
            write_image(item_path(out_dir, safe_id(name.replace("@", "_at_")), ".compare.png"),
                        contact_sheet(gt_all[:k] + gen_all[:k], k, ["ground truth"] * k + [name] * k))
            rows[name] = row
    result = dict(manifest=str(manifest), people=sorted(evaluated), rows=rows,
                  fid="computed" if inception is not None else "not computed (no --inception-weights)")
    write_metrics(out_dir, result, table(result))
    return result


def table(result: dict) -> str:
    """Markdown in the layout of FLNet Table 1 (L1, Fréchet distances), plus LMD and identity."""
    def f(v, p=2):
        return fmt(v, p)

    lines = ["# FLNet evaluation (held-back frames)", "", f"people: {', '.join(result['people'])}", "",
             "L1: mean |generated - ground truth| on 0-255. FD-dlib: Fréchet distance of dlib face embeddings "
             "(not FID) ± its bootstrap sd over the targets. FID: " + result["fid"] + ". LMD: px at the crop size.", "",
             "| model | targets | L1 | L1 face / background "
             "| FD-dlib | FID | LMD | landmarks found | identity dist | same person | mouth r "
             "| mouth std (target) | mouth r ceiling | landmarks found on ground truth |", "|---" * 14 + "|"]
    for name, r in result["rows"].items():
        lines.append(f"| {name} | {r['n_targets']} | {f(r['l1'])} | {f(r.get('l1_face'))} / "
                     f"{f(r.get('l1_background'))} | {f(r['fd_dlib'], 4)} ± "
                     f"{f(r.get('fd_dlib_sd'), 4)} | {f(r.get('fid'))} | "
                     f"{f(r['lmd_px'])} | {f(r['landmarks_found'])} | {f(r['identity_distance'], 3)} | "
                     f"{f(r['same_person_rate'])} | {f(r.get('mouth_r'))} | {f(r.get('mouth_std'), 3)} "
                     f"({f(r.get('target_mouth_std'), 3)}) | {f(r.get('mouth_r_ceiling'))} | "
                     f"{f(r.get('gt_landmarks_found'))} |")
    return "\n".join(lines) + "\n"
