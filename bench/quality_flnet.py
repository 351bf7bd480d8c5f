"""FLNet quality in a wall-clock budget on any clip of one person (issue 12), and the paper's ablations at equal
budget ("Ablation study", Table 1).

    python bench/quality_flnet.py --video CLIP.mp4 --minutes 30 --json out.json [--ablations] [--curve]
                                  [--size 128] [--width 16] [--batch 4] [--device cpu] [--work DIR]

The clip is cropped (``thead crop-faces``: landmarks + one crop per clip); the bank comes from its first 80% and
the last 20% is held back: every held-back frame is a target, driven by its own landmarks, scored against its real
crop. Inside ``--minutes`` of wall clock, cropping and the evaluation of the full model included, the full model
with 5 bank images trains for what is left. JSON keys (full-5B): ``l1`` (0-255, held-back frames), ``fd_dlib``
(Fréchet distance of dlib descriptors), ``l1_face`` and ``l1_background`` (the same L1 inside and outside the
target's face: where a variant gains), ``mouth_r`` (Pearson r of the mouth opening found by dlib on the output vs
the target landmarks'), ``mouth_std_ratio`` (output / target opening std: the amplitude), ``identity_distance``,
``same_person_rate``, ``lmd_px``, ``wall_minutes``, ``steps``; the measurement's own limits on these targets:
``fd_dlib_sd`` (bootstrap sd of ``fd_dlib``: rows closer than about twice it are not ordered), ``mouth_r_ceiling``
(dlib's mouth opening on the real held-back crops against their landmarks: the most ``mouth_r`` can show; low when
the tail's mouth barely moves), ``landmarks_found`` and ``gt_landmarks_found`` (dlib finds a face on the outputs /
on the real crops); and what copying a real training frame scores on
the same targets (``l1_copy_nearest``: the frame with the nearest landmarks; ``l1_copy_best``: the best frame, an
oracle; ``mouth_r_copy_nearest``: how well the nearest frame's mouth opening follows the target's), which shows
how far the clip's tail is from what the model saw and so which ``l1`` and ``mouth_r`` are reachable on it. With
``--ablations`` a ``variants`` object holds the same keys for ``full-5B``, ``full-3B``, ``full-1B``,
``appearance-only`` and ``warp-only``, each trained for the same minutes as full-5B (1B and 3B: the first 1 or 3 of
the 5 evenly spaced bank images, as in the paper); ``--variants full-5B,warp-only`` trains only those. With
``--curve``, full-5B is also scored (on 40 targets) at each fifth of its training (``curve`` in the JSON), and with
``--ablations --curve`` every variant at each third (``variant_curves``); with ``--json OUT.json`` the curves are
also drawn in ``OUT.curves.png`` (L1 and FD-dlib against minutes of training).

On a GPU (issue 12, part 3: the ablation ordering at a budget the CPU cannot reach) the work splits in two:
``--crops MANIFEST`` reuses crops made here, ``--parallel`` trains the variants at the same time (one process each;
one small model leaves most of a GPU idle), ``--no-eval`` stops after training (a machine without dlib) and trains
only the ``--variants`` named, so the variants can be trained in several calls (with no evaluation to keep time for,
``--minutes`` is all training: 2.5 minutes less gives what a scoring call trains), and ``--from-runs DIR`` scores the
runs a device trained (``DIR/run-TAG/last.pt``) on this machine's CPU. With ``--parallel`` every variant gets the
same wall-clock minutes, shared hardware included.

Start: without ``--ablations`` the full-5B model fine-tunes thead's bundled general FLNet
(``examples/weights/flnet_pretrained.pt``, trained on the people of ``../shared/data`` less the bench clips; see
``examples/weights/README.md``) unless ``--finetune none``; the budget covers the fine-tuning only, as a user who
installs thead gets those weights. With ``--ablations`` every variant starts from scratch, so the comparison is fair.

Person-specific settings (thead's, not the paper's; every variant alike): ``--banks fixed`` trains every sample on
the bank the evaluation then uses (``FLNetConfig.fixed_bank``; ``random``: the paper's varying banks) and ``--lr``
is 3e-4 (paper 1e-4). Measured on video-retalking_face_4 at 12 minutes with one core per run (about 1000 steps):
held-back L1 14.33 with random banks and lr 1e-4, 13.60 with the fixed bank, 13.16 with the fixed bank and lr
3e-4 (13.45 at 1e-3; 13.62 at 1e-4 without the adversarial term). ``--warped-input on`` (default) gives E the bank
warped by the landmark prior as well (``FLNetConfig.warped_input``; the bundled general model is widened with zero
weights): 12.28 in the same 12 minutes. Neither a higher weight on hair and background (``--k-floor`` 0.6: 13.25,
1.0: 13.56) nor zoomed targets (``--set zoom=0.1``: 13.26) helped there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "examples" / "weights" / "flnet_pretrained.pt"
VARIANTS = [("full-5B", "full", 5), ("full-3B", "full", 3), ("full-1B", "full", 1),
            ("appearance-only", "appearance-only", 5), ("warp-only", "warp-only", 5)]
EVAL_RESERVE_S = 150  # scoring ~200 held-back frames on 2 cores (dlib landmarks + descriptors), kept in the budget
KEYS = ("l1", "l1_face", "l1_background", "fd_dlib", "mouth_r", "identity_distance", "same_person_rate", "lmd_px",
        "fd_dlib_sd", "mouth_r_ceiling", "landmarks_found", "gt_landmarks_found")


def figures(row: dict) -> dict:
    out = {k: float(row[k]) for k in KEYS}
    t = row.get("target_mouth_std") or float("nan")
    out["mouth_std_ratio"] = float(row.get("mouth_std", float("nan")) / t) if t else float("nan")
    out["target_mouth_std"] = float(t)
    out["steps"] = int(row["step"])
    return out


def _train_one(crops: str, run: str, cfg, chunks: int = 1, finetune=None) -> list[tuple[float, Path]]:
    """One variant for ``cfg.time_limit_s`` in ``chunks`` resumed pieces of equal time; with several, a copy
    ``run-TAG/snapK.pt`` after each. Returns (seconds since the start, snapshot) per snapshot."""
    from thead.systems.flnet.train import train_flnet

    total, t, snaps = cfg.time_limit_s, time.perf_counter(), []
    for k in range(chunks):
        cfg.time_limit_s = max((total - (time.perf_counter() - t)) / (chunks - k), 1.0)  # 0 = no limit
        train_flnet(Path(crops), Path(run), cfg, resume=k > 0, progress=False, say=lambda m: None,
                    finetune=finetune if k == 0 else None)
        if chunks > 1:
            snap = Path(run) / f"snap{k + 1}.pt"
            shutil.copyfile(Path(run) / "last.pt", snap)
            snaps.append((time.perf_counter() - t, snap))
    return snaps


def train_parallel(a, crops: Path, work: Path, train_s: float, cfg, finetune=None) -> dict:
    """Every variant (only full-5B without ``--ablations``) in its own process at once, each for ``train_s``; with
    ``--curve`` each in 3 resumed pieces, leaving ``snap1..3.pt`` in its run folder."""
    import multiprocessing as mp

    todo = a.todo
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_train_one, args=(str(crops), str(work / f"run-{tag}"), cfg(variant, n, train_s),
                                                    3 if a.curve else 1, finetune))
             for tag, variant, n in todo]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [tag for (tag, _, _), p in zip(todo, procs) if p.exitcode != 0]
    if bad:
        sys.exit(f"error: training failed for {', '.join(bad)}")
    return {tag: (work / f"run-{tag}" / "last.pt", []) for tag, _, _ in todo}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, required=True, help="A clip of one person (seconds to minutes).")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--variants", default=",".join(t for t, _, _ in VARIANTS),
                    help="With --ablations: which variants to train (comma-separated; full-5B always "
                         "trains, unless --no-eval).")
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--d-steps", type=int, default=1,
                    help="D updates per G update (paper: 5; 1: the 1:1 schedule on the step's own fakes, "
                    "~3x the G updates on a CPU).")
    ap.add_argument("--field", default="sparse", help="Landmark difference field: sparse (paper) or dense.")
    ap.add_argument("--prior", default="tps-head", help="Warp prior: tps-head (thead's default), tps or none (paper).")
    ap.add_argument("--k-floor", type=float, default=None, help="Heatmap K lower bound (default: thead's).")
    ap.add_argument("--ema", type=float, default=0.999, help="Generator weight average decay (0: off; not in paper).")
    ap.add_argument("--lambda-entropy", type=float, default=0.0, help="Selection-mask entropy weight (not in paper).")
    ap.add_argument("--lambda-id", type=float, default=1.0, help="Identity term weight (dlib descriptors; not in "
                    "paper; 0: eq. 17).")
    ap.add_argument("--finetune", default=None,
                    help="FLNet checkpoint the full-5B model starts from (default: the bundled "
                    "examples/weights/flnet_pretrained.pt when present and without --ablations; 'none': from "
                    "scratch). Ablations always train from scratch, every variant alike.")
    ap.add_argument("--banks", choices=("fixed", "random"), default="fixed",
                    help="fixed (thead's person-specific fine-tuning, FLNetConfig.fixed_bank): every sample uses the "
                    "bank the evaluation uses; random: the paper's varying banks.")
    ap.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate of G and D (paper: 1e-4; 3e-4 measured "
                    "best of 1e-4, 3e-4 and 1e-3 for a short person-specific fine-tune).")
    ap.add_argument("--warped-input", choices=("on", "off"), default="on",
                    help="on (thead's, FLNetConfig.warped_input): E also takes the bank warped by the landmark prior, "
                    "in every variant with a fetching stream (not appearance-only); off: the paper's inputs.")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="Any other FLNetConfig field (repeatable), e.g. --set lambda_adv=0.")
    ap.add_argument("--max-targets", type=int, default=200)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--crops", type=Path, default=None, help="An existing crop manifest of --video (skips cropping).")
    ap.add_argument("--parallel", action="store_true", help="Train the variants at the same time (a GPU).")
    ap.add_argument("--no-eval", action="store_true", help="Train only (a device without dlib).")
    ap.add_argument("--from-runs", type=Path, default=None, help="Score DIR/run-TAG/last.pt; no training.")
    a = ap.parse_args()
    wanted = {t.strip() for t in a.variants.split(",") if t.strip()}
    unknown = wanted - {t for t, _, _ in VARIANTS}
    if unknown:
        known = ", ".join(t for t, _, _ in VARIANTS)
        sys.exit(f"error: --variants: unknown {', '.join(sorted(unknown))} (known: {known})")
    # full-5B always trains, as the others' budget is its own; --no-eval (training split over calls or machines,
    # scored together with --from-runs) trains only the variants named
    a.todo = [v for i, v in enumerate(VARIANTS)
              if (a.ablations and v[0] in wanted) or (i == 0 and not (a.no_eval and a.ablations))]
    if not a.video.is_file() and not a.crops:
        sys.exit(f"error: {a.video} not found")
    os.environ.setdefault("THEAD_ALLOW_OUTSIDE", str(a.video.resolve().parent))

    from thead.systems.flnet.train import FLNetConfig

    # only full-5B trains without --ablations, and with them nothing fine-tunes: finetune is full-5B's start alone
    if a.finetune is None:
        finetune = PRETRAINED if PRETRAINED.is_file() and not a.ablations else None
    elif a.finetune == "none" or a.ablations:
        if a.ablations and a.finetune != "none":
            print("note: --ablations trains every variant from scratch; --finetune ignored")
        finetune = None
    else:
        finetune = Path(a.finetune)
        if not finetune.is_file():
            sys.exit(f"error: {finetune} not found")
    work = (a.work or Path(tempfile.mkdtemp(prefix="thead-quality-flnet-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if a.crops:
        crops = a.crops.resolve()
    else:
        from thead.stages import crop

        crops = crop.run([a.video], work / "crops", size=a.size, progress=False).manifest_path
    crop_s = time.perf_counter() - t0
    train_s = max(a.minutes * 60 - crop_s - (0 if a.no_eval or a.from_runs else EVAL_RESERVE_S), 60.0)
    print(f"machine: {os.cpu_count()} cores, device {a.device}; budget {a.minutes} min; crops {crop_s:.0f} s; "
          f"training {train_s / 60:.1f} min per model; {a.size} px, width {a.width}, batch {a.batch}, D steps "
          f"{a.d_steps}, {a.field} field, mask entropy {a.lambda_entropy}, {a.banks} banks, lr {a.lr:g}, warped input "
          f"{a.warped_input}; start "
          f"{finetune or 'from scratch'}; work {work}", flush=True)

    extra = {}
    for kv in a.set:
        key, _, val = kv.partition("=")
        if key not in FLNetConfig.__dataclass_fields__:
            sys.exit(f"error: --set {kv}: FLNetConfig has no field {key!r}")
        kind = type(getattr(FLNetConfig(), key))
        extra[key] = val.lower() in ("1", "true", "yes") if kind is bool else kind(val)

    def cfg(variant, n, limit):
        return FLNetConfig(**{"lr": a.lr, "warped_input": a.warped_input == "on" and variant != "appearance-only"
                              and a.prior != "none",
                              **extra}, fixed_bank=a.banks == "fixed", steps=10**7, batch_size=a.batch,
                           width=a.width, d_width=a.width, variant=variant,
                           bank_size=n, bank_pool=5, holdout=0.2, d_steps=a.d_steps, ema=a.ema, time_limit_s=limit,
                           **({} if a.k_floor is None else {"k_floor": a.k_floor}),
                           field=a.field, prior=a.prior, lambda_entropy=a.lambda_entropy, lambda_id=a.lambda_id,
                           checkpoint_every=10**7, device=a.device)

    def train(tag, variant, n):
        run = work / f"run-{tag}"
        chunks = (3 if a.ablations else 5 if tag == "full-5B" else 1) if a.curve else 1
        snaps = _train_one(str(crops), str(run), cfg(variant, n, train_s), chunks,
                           finetune)
        print(f"[{(time.perf_counter() - t0) / 60:6.1f} min] trained {tag}", flush=True)
        return run / "last.pt", [((s + crop_s) / 60, snap) for s, snap in snaps]

    runs = (a.from_runs or work).resolve()
    t_full = None  # when the full model's training ended, where other variants train after it
    if a.from_runs:
        found = {tag: [runs / f"run-{tag}" / n for n in ("last.pt", "snap3.pt")] for tag, _, _ in VARIANTS}
        trained = {tag: (next(q for q in qs if q.is_file()), []) for tag, qs in found.items()
                   if any(q.is_file() for q in qs)}
    elif a.parallel:
        trained = train_parallel(a, crops, work, train_s, cfg, finetune)
    else:
        trained = {}
        for tag, variant, n in a.todo:
            trained[tag] = train(tag, variant, n)
            if tag == VARIANTS[0][0]:
                t_full = time.perf_counter()  # the full model's budget ends here; the other variants get their own
    if a.no_eval:
        from thead.train.checkpoint import load_checkpoint

        steps = {tag: int(load_checkpoint(p)["step"]) for tag, (p, _) in trained.items()}
        print(f"trained {sorted(trained)} for {train_s / 60:.1f} min each; no evaluation (--no-eval); {steps}")
        return {}
    from thead.systems.flnet.evaluate import evaluate

    full, snaps = trained[VARIANTS[0][0]]
    t_eval = time.perf_counter()
    ev = evaluate([full], crops, work / "eval-full-5B", max_targets=a.max_targets, device=a.device,
                  progress=False)
    # the full model's wall clock: cropping, its training and its evaluation (not the other variants')
    wall = ((t_full or t_eval) - t0 + time.perf_counter() - t_eval) / 60
    result = dict(figures(next(iter(ev["rows"].values()))), wall_minutes=wall, budget_minutes=a.minutes,
                  train_minutes=train_s / 60, crop_minutes=crop_s / 60, cores=os.cpu_count(), device=a.device,
                  size=a.size, width=a.width, batch=a.batch, d_steps=a.d_steps, ema=a.ema, k_floor=a.k_floor,
                  field=a.field, prior=a.prior, lambda_entropy=a.lambda_entropy, lambda_id=a.lambda_id,
                  video=str(a.video), banks=a.banks, lr=a.lr, warped_input=a.warped_input, overrides=extra,
                  finetuned_from=str(finetune) if finetune else None,
                  n_targets=int(next(iter(ev["rows"].values()))["n_targets"]))
    if a.from_runs:  # trained elsewhere (a GPU): say where, as the run folder recorded it
        conf = json.loads((full.parent / "config.json").read_text())
        result.update(training_device=conf.get("device"), train_minutes=a.minutes, runs=str(runs))
    print((work / "eval-full-5B" / "metrics.md").read_text())
    from thead.systems.flnet.evaluate import copy_baselines

    floor = copy_baselines(crops, ev["rows"][next(iter(ev["rows"]))]["holdout"], max_targets=a.max_targets)
    result.update(l1_copy_nearest=floor["l1_copy_nearest"], l1_copy_best=floor["l1_copy_best"],
                  mouth_r_copy_nearest=floor["mouth_r_copy_nearest"])
    if a.curve and (a.parallel or a.from_runs or a.ablations):  # every variant at each third of its training
        result["variant_curves"] = curves = {tag: [] for tag in trained}
        for k in (1, 2, 3):
            have = [(tag, runs / f"run-{tag}" / f"snap{k}.pt") for tag in trained]
            have = [(tag, q) for tag, q in have if q.is_file()]
            if not have:
                continue
            e = evaluate([q for _, q in have], crops, work / f"eval-snap{k}", max_targets=40, device=a.device,
                         progress=False)
            for (tag, _), row in zip(have, e["rows"].values()):
                curves[tag].append(dict(minutes=round(train_s / 60 * k / 3, 2), **figures(row)))
        print("\nlearning curves (40 targets; minutes of training per variant):")
        for tag, rows in curves.items():
            print(f"  {tag:16s} " + "; ".join(f"{c['minutes']:.1f} min {c['steps']} steps l1 {c['l1']:.2f} "
                                             f"fd {c['fd_dlib']:.3f}" for c in rows))
    elif a.curve:
        curve = []
        for minutes, snap in snaps:
            e = evaluate([snap], crops, work / f"eval-full-5B-{snap.stem}", max_targets=40, device=a.device,
                         progress=False)
            curve.append(dict(minutes=round(minutes, 2), **figures(next(iter(e["rows"].values())))))
        result["curve"] = curve
    if a.ablations:
        tags = [tag for tag, _, _ in VARIANTS if tag in trained]
        ev = evaluate([trained[tag][0] for tag in tags], crops, work / "eval-ablations", max_targets=a.max_targets,
                      device=a.device, progress=False)
        result["variants"] = {tag: figures(row) for tag, row in zip(tags, ev["rows"].values())}
        print((work / "eval-ablations" / "metrics.md").read_text())
    print("| figure | full-5B | target |")
    print("|---|---|---|")
    for k, target in (("l1", "<= 12"), ("l1_copy_nearest", "(copying the nearest-landmark training frame)"),
                      ("l1_copy_best", "(copying the best training frame: an oracle)"),
                      ("mouth_r", ">= 0.8"),
                      ("mouth_r_copy_nearest", "(the nearest-landmark training frame's mouth against the target's)"),
                      ("identity_distance", "<= 0.45"),
                      ("same_person_rate", "= 1.0"), ("fd_dlib", ""), ("fd_dlib_sd", "(bootstrap sd over the targets)"),
                      ("mouth_std_ratio", "~1"),
                      ("mouth_r_ceiling", "(dlib on the real crops: the most mouth_r can show on this tail)"),
                      ("landmarks_found", "(dlib finds a face on the output)"),
                      ("gt_landmarks_found", "(dlib finds a face on the real crop)"),
                      ("wall_minutes", f"<= {a.minutes:g}")):
        print(f"| {k} | {result[k]:.3f} | {target} |")
    if a.curve and "curve" in result:
        print("\nlearning curve (full-5B, 40 targets):")
        for c in result["curve"]:
            print(f"  {c['minutes']:6.1f} min, {c['steps']:5d} steps: l1 {c['l1']:.2f}, mouth_r {c['mouth_r']:.3f}, "
                  f"identity {c['identity_distance']:.3f}")
    if result["mouth_r_ceiling"] < 0.5:
        print(f"note: dlib on the real held-back crops agrees with their landmarks' mouth opening at r "
              f"{result['mouth_r_ceiling']:.2f} only (mouth_r_ceiling): the tail's mouth barely moves (target std "
              f"{result['target_mouth_std']:.3f}), so mouth_r measures landmark noise here")
    if a.ablations:
        v = result["variants"]
        for key in ("l1", "fd_dlib", "l1_face", "l1_background"):
            order = sorted(v, key=lambda t: v[t][key])
            print(f"{key}: {' < '.join(order)}")
        print("fd_dlib ± bootstrap sd: " + ", ".join(f"{t} {v[t]['fd_dlib']:.4f} ± {v[t]['fd_dlib_sd']:.4f}"
                                                     for t in sorted(v, key=lambda t: v[t]['fd_dlib'])))
    print(f"work folder: {work}")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
        curves = result.get("variant_curves") or ({"full-5B": result["curve"]} if result.get("curve") else None)
        if curves:
            png = plot_curves(curves, a.json.with_suffix(".curves.png"),
                              f"{Path(a.video).name}, {result['cores']} cores, {a.device}")
            print(f"learning curves: {png}")
    return result


def plot_curves(curves: dict, path: Path, title: str = "") -> Path:
    """PNG of held-back L1 (0-255) and FD-dlib against minutes of training, one line per variant; FD-dlib with its
    bootstrap sd as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thead.viz import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for tag, rows in curves.items():
        if not rows:
            continue
        m = [r["minutes"] for r in rows]
        axes[0].plot(m, [r["l1"] for r in rows], "o-", label=tag)
        axes[1].errorbar(m, [r["fd_dlib"] for r in rows], yerr=[r.get("fd_dlib_sd", 0.0) for r in rows], fmt="o-",
                         capsize=3, label=tag)
    for ax, name in zip(axes, ("L1 (0-255, held-back frames)", "FD-dlib (± bootstrap sd)")):
        ax.set_xlabel("minutes of training")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"FLNet learning curves {title}".strip())
    fig.tight_layout()
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
