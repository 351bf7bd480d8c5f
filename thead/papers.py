"""The three papers' training settings and published figures: what ``make -f stages/<system>.mk reproduce`` trains
with, and the table it prints at the end (the paper's numbers beside the run's own).

Settings are declared here once, each with the sentence of the paper it comes from; where a paper is silent the value
is thead's choice and says so. The Makefiles read them through ``python -m thead.papers flags SYSTEM STEP`` (one
line of command-line options), and ``thead paper-figures`` compares an ``evaluate`` result with the paper's tables.

Sources: GATH (Pham, Wang, Pavlovic 2018) section 4 "Implementation" and Tables 1-3; FLNet (Gu, Zhou, Huang, AAAI
2020) "Implementation" and Table 1; FACIAL (Zhang et al., ICCV 2021) section 5.1 "Implementation details" and
Table 1. Full texts: ``../shared/papers/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from thead.errors import InputError


@dataclass(frozen=True)
class Setting:
    """One command-line option of one training step: ``flag`` (e.g. ``--batch-size``), ``value`` (None: a switch)
    and ``source`` (the paper's words, or "thead: ..." where the paper is silent)."""
    flag: str
    value: Optional[str]
    source: str


@dataclass(frozen=True)
class Figure:
    """One published number: ``label``, ``key`` (a dotted path into a row of ``evaluate``'s ``metrics.json``),
    ``paper`` (the value in the paper's table), ``better`` ("lower", "higher" or "near") and ``source`` (table,
    row, column); ``note`` says where thead's measure differs from the paper's; ``corpus`` (a ``thead prepare``
    recipe name) is the corpus the number was measured on, empty where the paper pools its corpora."""
    label: str
    key: str
    paper: float
    better: str
    source: str
    note: str = ""
    corpus: str = ""


@dataclass(frozen=True)
class Paper:
    system: str
    title: str
    steps: dict[str, list[Setting]]
    figures: list[Figure] = field(default_factory=list)


GATH = Paper(
    "gath", "Pham, Wang, Pavlovic 2018: Generative Adversarial Talking Head",
    steps={
        "aue": [
            Setting("--batch-size", "64", "Implementation: minibatch size = 64 (stated for G, D, C; used for E too)"),
            Setting("--lr", "1e-4", "Implementation: initial learning rate = 1e-4 (stated for G, D, C)"),
            Setting("--aue-norm", "none", "section 3: E is based on VGG-9, which has no normalization layers"),
            Setting("--width", "64", "section 3: VGG-9's 64 channels in the first block"),
            Setting("--steps", "20000", "thead: the paper gives no step count for E"),
        ],
        "gath": [
            Setting("--batch-size", "64", "Implementation: minibatch size = 64"),
            Setting("--lr", "1e-4", "Implementation: initial learning rate = 1e-4"),
            Setting("--beta1", "0.9", "Implementation: ADAM with momentum = 0.9"),
            Setting("--lambda-rec", "1.0", "Implementation: lambda_rec = lambda_tv = 1.0"),
            Setting("--lambda-tv", "1.0", "Implementation: lambda_rec = lambda_tv = 1.0"),
            Setting("--lambda-adv", "0.05", "Implementation: lambda_adv = lambda_cls = 0.05"),
            Setting("--lambda-cls", "0.05", "Implementation: lambda_adv = lambda_cls = 0.05"),
            Setting("--au-norm", "sum", "eq. 4: the feature distance summed over elements"),
            Setting("--lambda-expr", "0", "eq. 3: the paper's objective has no expression loss"),
            Setting("--edit-fraction", "0", "section 3: targets are real frames' AU vectors"),
            Setting("--warp", "none", "Implementation: G's input is the 100x100 source image itself"),
            Setting("--upsample", "transposed", "Implementation: two convolutional transpose blocks"),
            Setting("--g-output", "direct", "Implementation: a final convolutional output layer gives the image"),
            Setting("--g-norm", "batch",
                    "Implementation: a convolutional layer, followed by a batch normalization layer"),
            Setting("--width", "64", "thead: the paper gives no channel counts for G"),
            Setting("--steps", "20000", "thead: the paper gives no step count"),
        ],
    },
    figures=[
        Figure("MAE, face mask, CLAHE", "mask_clahe.mae", 55.43, "lower", "Table 1, mask with CLAHE, GATH, All",
               "0-255 per channel; thead's face mask is the convex hull of the landmarks"),
        Figure("RMSE, face mask, CLAHE", "mask_clahe.rmse", 88.64, "lower", "Table 1, mask with CLAHE, GATH, All"),
        Figure("MAE, full image, CLAHE", "full_clahe.mae", 75.66, "lower", "Table 1, full image with CLAHE, GATH, All"),
        Figure("RMSE, full image, CLAHE", "full_clahe.rmse", 117.79, "lower",
               "Table 1, full image with CLAHE, GATH, All"),
        Figure("AU RMSE, intra-class", "au_rmse_intra", 0.477, "lower", "Table 2, GATH, All",
               "AU intensities 0-5 by thead's landmarks -> 3DMM -> FACS chain, the paper's by OpenFace"),
        Figure("AU RMSE, inter-class", "au_rmse_inter", 0.579, "lower", "Table 3, GATH",
               "AU intensities 0-5 by thead's chain, the paper's by OpenFace"),
    ])

FLNET = Paper(
    "flnet", "Gu, Zhou, Huang, AAAI 2020: FLNet: Landmark Driven Fetching and Learning Network",
    steps={
        "crop": [Setting("--size", "224", "Dataset: resize to 224 x 224 with nose tip placed at the center")],
        "flnet": [
            Setting("--d-steps", "5", "Implementation: for every 5 iterations of discriminator update, we train "
                    "once the generator"),
            Setting("--lr", "1e-4", "Implementation: Adam, learning rate 1e-4 for both networks"),
            Setting("--lambda-sv", "1.0", "Implementation: (lambda_SV, lambda_TV, lambda_rec, lambda_p, lambda_adv) "
                    "= (1.0, 1e-5, 250, 1.0, 1.0)"),
            Setting("--lambda-tv", "1e-5", "Implementation: lambda_TV = 1e-5"),
            Setting("--lambda-rec", "250", "Implementation: lambda_rec = 250"),
            Setting("--lambda-p", "1.0", "Implementation: lambda_p = 1.0"),
            Setting("--lambda-adv", "1.0", "Implementation: lambda_adv = 1.0"),
            Setting("--k-floor", "0.3", "eq. 12-13: K's lower bound 0.3"),
            Setting("--bank-size", "5", "Ablation study: all 5 images in the source bank"),
            Setting("--prior", "none", "Network Structure: the warps are learned from the landmark difference "
                    "field alone"),
            Setting("--ema", "0", "Implementation: the trained generator itself synthesizes (no weight average)"),
            Setting("--lambda-entropy", "0", "Objective Functions: eq. 17 has no mask-entropy term"),
            Setting("--width", "64", "Implementation: E raises the channels to 256 and brings them back to 64"),
            Setting("--d-width", "64", "Implementation: D follows GANimation's (64 channels first)"),
            Setting("--batch-size", "8", "thead: the paper gives no batch size"),
            Setting("--steps", "50000", "thead: the paper gives no step count"),
        ],
    },
    figures=[
        Figure("L1 (TCD-TIMIT)", "l1", 7.99, "lower", "Table 1, Ours, TIMIT",
               "0-255, held-back frames of the test people, bank from each one's own earlier frames", "tcd-timit"),
        Figure("FID (TCD-TIMIT)", "fid", 17.07, "lower", "Table 1, Ours, TIMIT",
               "needs --inception-weights (thead weights download inception)", "tcd-timit"),
        Figure("L1 (FaceForensics)", "l1", 10.20, "lower", "Table 1, Ours, FaceForensics", "", "faceforensics"),
        Figure("FID (FaceForensics)", "fid", 20.62, "lower", "Table 1, Ours, FaceForensics", "", "faceforensics"),
    ])

FACIAL = Paper(
    "facial", "Zhang et al., ICCV 2021: FACIAL: Synthesizing Dynamic Talking Face with Implicit Attribute Learning",
    steps={
        "render": [Setting("--size", "512", "thead: the paper gives no resolution; 512 px is the setting named "
                                    "as the paper's in thead's FACIAL fidelity issue")],
        "gan": [
            Setting("--epochs", "50", "section 5.1: a total of 50 epochs ... with a batch size of 64 for general "
                    "training"),
            Setting("--batch-size", "64", "section 5.1: batch size of 64 for general training"),
            Setting("--lr", "1e-4", "section 5.1: Adam optimizer and a learning rate of 0.0001"),
            Setting("--window", "128", "section 5.1: 128 frames of audio and video per sample"),
            Setting("--hop", "5", "section 5.1: a sliding distance of 5 frames"),
            Setting("--w-gan", "0.1", "section 5.1: omega_6 = 0.1 (omega_1..5 = 2, 1, 5, 10, 10 are the defaults)"),
            Setting("--audio-norm", "none", "Audio preprocessing: DeepSpeech features as they are (no normalization)"),
            Setting("--w-mouth", "0", "section 3.2: eq. 8 has no mouth-shape term"),
        ],
        "tune": [
            Setting("--epochs", "10", "section 5.1: the fine-tuning step takes 10 epochs with a batch size of 16"),
            Setting("--batch-size", "16", "section 5.1: batch size of 16 for fine-tuning"),
            Setting("--lr", "1e-4", "section 5.1: learning rate 0.0001"),
        ],
        "r2v": [
            Setting("--arch", "pix2pixhd", "section 3.4: following Chan et al. (Everybody Dance Now), pix2pixHD's "
                    "generator and multi-scale discriminator"),
            Setting("--epochs", "50", "section 5.1: the rendering-to-video network ... 50 epochs with a batch size "
                    "of 1"),
            Setting("--batch-size", "1", "section 5.1: batch size of 1"),
            Setting("--lr", "1e-4", "section 5.1: learning rate of 0.0001"),
            Setting("--lr-decay", "0.6", "section 5.1: a learning rate decay for the last 30 epochs"),
            Setting("--lambda-id", "0", "section 3.4: eq. 10 has no identity term"),
            Setting("--w-face", "0", "section 3.4: eq. 10's plain L1"),
            Setting("--width", "64", "thead: pix2pixHD's default ngf = 64 (the paper gives none)"),
            Setting("--d-width", "64", "thead: pix2pixHD's default ndf = 64 (the paper gives none)"),
        ],
    },
    figures=[
        Figure("LMD", "lmd_mouth_pct_iod", 3.57, "lower", "Table 1, Ours",
               "thead: mouth landmarks in % of the inter-ocular distance; the paper's in pixels"),
        Figure("CPBD", "cpbd", 0.314, "higher", "Table 1, Ours"),
        Figure("AV offset (frames)", "syncnet_offset", -2, "near", "Table 1, Ours",
               "needs --syncnet-weights (thead weights download syncnet)"),
        Figure("AV confidence (LSE-C)", "syncnet_confidence", 5.216, "higher", "Table 1, Ours",
               "needs --syncnet-weights"),
        Figure("blinks/s", "blinks_per_s", 0.47, "near", "Table 1, Ours", "people: 0.28-0.45 /s"),
        Figure("blink duration (s)", "blink_duration_s", 0.26, "near", "Table 1, Ours"),
    ])

PAPERS: dict[str, Paper] = {p.system: p for p in (GATH, FLNET, FACIAL)}


def paper(system: str) -> Paper:
    """Raises InputError for an unknown system."""
    if system not in PAPERS:
        raise InputError(f"unknown system {system!r} (papers: {', '.join(PAPERS)})")
    return PAPERS[system]


def flags(system: str, step: str) -> str:
    """The paper's options for one training step as one command-line string (``python -m thead.papers flags``).

    Raises:
        InputError: unknown system or step.
    """
    p = paper(system)
    if step not in p.steps:
        raise InputError(f"{system} has no step {step!r} (steps: {', '.join(p.steps)})")
    return " ".join(s.flag if s.value is None else f"{s.flag} {s.value}" for s in p.steps[step])


def _lookup(row: dict, key: str):
    v = row
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _evaluated_row(system: str, metrics: dict) -> tuple[str, dict]:
    """The row of ``metrics.json`` that holds the trained model's figures (the last one; for FACIAL the last
    generated video, not the ground-truth or reference comparison rows)."""
    rows = metrics.get("rows") or {}
    names = [n for n in rows if not (system == "facial" and n.split(":")[0] in ("ground truth", "reference"))]
    if not names:
        raise InputError(f"the metrics hold no evaluated {system} row (rows: {', '.join(rows) or 'none'})")
    return names[-1], rows[names[-1]]


def throughput(run_dir: Path) -> dict:
    """From a run folder's ``log.jsonl``: step, minutes, s a step, samples/s trained and the loader's own rate (the
    last record that has them)."""
    log = Path(run_dir) / "log.jsonl"
    if not log.is_file():
        raise InputError(f"{run_dir}: no log.jsonl (not a training run folder)")
    last: dict = {}
    for line in log.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if "step" in rec:
                last = rec
    return {k: last.get(k) for k in ("step", "minutes", "step_s", "samples_per_s", "loader_samples_per_s")}


def compare(system: str, metrics_path: Path, runs: tuple[Path, ...] = (), corpora: tuple[str, ...] = ()) -> dict:
    """The paper's figures beside an evaluation's. Returns ``{"system", "row", "figures": [{label, paper, run,
    better, source, note}], "runs": {run: throughput}}``; ``run`` is None where the evaluation did not measure it.
    With ``corpora`` (recipe names, e.g. ``("tcd-timit",)``) only the figures measured on those corpora (and the
    pooled ones) are listed.

    Raises:
        InputError: unknown system, unreadable metrics, no evaluated row.
    """
    p = paper(system)
    try:
        metrics = json.loads(Path(metrics_path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{metrics_path}: cannot read the evaluation's metrics.json ({e})") from None
    name, row = _evaluated_row(system, metrics)
    figs = []
    note = ""
    keep = [f for f in p.figures if not (corpora and f.corpus and f.corpus not in corpora)]
    if not keep:  # the paper measured on other corpora: show its figures, say so
        keep = list(p.figures)
        note = (f"the paper reports no figures on {', '.join(corpora)}; its figures on "
                f"{', '.join(sorted({f.corpus for f in p.figures if f.corpus}))} are shown")
    for f in keep:
        v = _lookup(row, f.key)
        figs.append(dict(label=f.label, paper=f.paper, run=v if v is None or math.isfinite(v) else None,
                         better=f.better, source=f.source, note=f.note))
    return dict(system=system, title=p.title, row=name, figures=figs, note=note,
                runs={str(r): throughput(r) for r in runs})


def markdown(result: dict) -> str:
    """The comparison as Markdown (what ``thead paper-figures -o`` writes)."""
    def f(v, spec=".3f"):
        return "n/a" if v is None else format(v, spec)

    lines = [f"# {result['system']}: the paper's figures beside this run's", "", f"Paper: {result['title']}. "
             f"Evaluated: {result['row']}." + (f" Note: {result['note']}." if result.get("note") else ""), "",
             "| figure | paper | this run | better | source | note |",
             "|---|---|---|---|---|---|"]
    for g in result["figures"]:
        lines.append(f"| {g['label']} | {f(g['paper'])} | {f(g['run'])} | {g['better']} | {g['source']} | "
                     f"{g['note']} |")
    if result["runs"]:
        lines += ["", "| training run | step | minutes | s a step | samples/s trained | loader alone, samples/s |",
                  "|---|---|---|---|---|---|"]
        for run, t in result["runs"].items():
            lines.append(f"| {run} | {t['step']} | {f(t['minutes'], '.1f')} | {f(t['step_s'], '.3f')} | "
                         f"{f(t['samples_per_s'], '.1f')} | {f(t['loader_samples_per_s'], '.1f')} |")
    return "\n".join(lines) + "\n"


def _corpora(manifests: list[Path]) -> list:
    """The ``thead prepare`` manifests, loaded.

    Raises:
        InputError: a manifest that is missing or not a ``thead.corpus``.
    """
    from thead.manifest import load_manifest

    out = []
    for m in manifests:
        if not Path(m).is_file():
            raise InputError(f"{m}: no such corpus manifest (make it with: thead prepare CORPUS ROOT -o FOLDER)")
        lm = load_manifest(Path(m))
        if lm.kind != "thead.corpus":
            raise InputError(f"{m}: a {lm.kind} manifest, not a thead.corpus one (thead prepare writes those)")
        out.append(lm)
    return out


def corpus_roots(manifests: list[Path]) -> list[str]:
    """The corpus folders (``producer.config.root``) of ``thead prepare`` manifests: the data a reproduction reads
    outside its work folder (the Makefiles add them to ``THEAD_ALLOW_OUTSIDE``). Raises InputError as ``_corpora``."""
    roots = []
    for lm in _corpora(manifests):
        root = (lm.manifest.producer.config or {}).get("root")
        if root and str(root) not in roots:
            roots.append(str(root))
    return roots


def corpus_names(manifests: list[Path]) -> list[str]:
    """The recipe names (``tcd-timit``, ``ravdess``, ...) of ``thead prepare`` manifests (their producer stage
    ``prepare NAME``). Raises InputError as ``_corpora``."""
    names = []
    for lm in _corpora(manifests):
        stage = lm.manifest.producer.stage
        name = stage.split(" ", 1)[1] if stage.startswith("prepare ") else ""
        if name and name not in names:
            names.append(name)
    return names


def split_reference(corpus: Path, out_dir: Path, item: Optional[str] = None, fraction: float = 0.8) -> dict:
    """FACIAL's reproduction protocol on one test clip: its first ``fraction`` is the reference video (fine-tuning
    and rendering-to-video), its last part the held-out speech and ground truth. Writes ``out_dir/reference.mp4``,
    ``out_dir/reference.tail.mp4`` and ``out_dir/reference.tail.wav`` (16 kHz mono) with ffmpeg (H.264 CRF 12), so
    the Makefile's paths do not depend on which clip was chosen.

    Args:
        corpus: a ``thead.corpus`` manifest (the test split); ``item``: its id (default: the first video with sound).

    Returns:
        ``{"id" (the corpus item), "reference", "tail", "wav", "duration_s", "cut_s"}`` (paths as strings).

    Raises:
        InputError: no such item, no video with sound, or a clip under 2 s.
    """
    from thead.manifest import load_manifest
    from thead.media import has_audio, probe_video, split_at

    lm = load_manifest(Path(corpus))
    chosen = None
    for it in lm.manifest.items:
        if item is not None and it.id != item:
            continue
        src = lm.source(it)
        if src is not None and (it.meta or {}).get("media_type", "video") == "video" and src.is_file() \
                and has_audio(src):
            chosen = (it.id, src)
            break
    if chosen is None:
        raise InputError(f"{corpus}: " + (f"no video item {item!r} with sound" if item else "no video with sound"))
    cid, src = chosen
    dur = float(probe_video(src).duration_s)
    if dur < 2.0:
        raise InputError(f"{src}: {dur:.1f} s is too short to split into a reference and a held-out part")
    cut = fraction * dur
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref, tail, wav = out_dir / "reference.mp4", out_dir / "reference.tail.mp4", out_dir / "reference.tail.wav"
    split_at(src, cut, ref, tail, wav)
    return dict(id=cid, reference=str(ref), tail=str(tail), wav=str(wav), duration_s=dur, cut_s=cut)


USAGE = """usage: python -m thead.papers flags SYSTEM STEP        the paper's options for one training step
       python -m thead.papers roots MANIFEST...          the corpus folders of thead.corpus manifests
       python -m thead.papers corpora MANIFEST...        their recipe names
       python -m thead.papers split-reference CORPUS OUT [ID]   FACIAL's reference / held-out split of a clip"""


def _main(argv: Optional[list[str]] = None) -> int:
    """The Makefiles' helpers (see ``USAGE``); errors are one line on stderr and exit code 1."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) == 3 and args[0] == "flags":
            print(flags(args[1], args[2]))
        elif len(args) >= 2 and args[0] == "roots":
            print(" ".join(corpus_roots([Path(a) for a in args[1:]])))
        elif len(args) >= 2 and args[0] == "corpora":
            print(" ".join(corpus_names([Path(a) for a in args[1:]])))
        elif len(args) in (3, 4) and args[0] == "split-reference":
            print(json.dumps(split_reference(Path(args[1]), Path(args[2]), args[3] if len(args) == 4 else None)))
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
