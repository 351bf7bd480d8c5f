"""Dataset recipes: ``thead prepare CORPUS ROOT -o OUT`` reads a published corpus in its own layout and writes one
``thead.corpus`` manifest of its media, labelled (``identity``, ``emotion`` / ``intensity`` where the corpus has
them, corpus-specific fields) and split (``split``: train / val / test, following the paper that uses the corpus),
with each file's size and, by default, duration. Every per-item stage takes that manifest as its input, and the
labels ride along in each item's ``meta`` (identity into GATH's source set and FLNet's banks, emotion into reports).
In the style of lhotse's recipes: one function per corpus, nothing copied or converted.

A ROOT that does not look like the corpus is refused with one line naming what is missing; files in it that the
recipe does not recognise are counted and listed (first ten) in the summary, never silently dropped.

Recipes and their splits (the layouts are the ones each corpus documents):

* ``ravdess`` -- ``Actor_NN/MM-VV-EE-II-SS-RR-AA.{mp4,wav}``: modality, vocal channel, emotion, intensity,
  statement, repetition, actor from the file name (the corpus's README). GATH holds out four actors for its tests
  without naming them; thead takes the last four (Actor_21..24) as ``test``.
* ``cacd`` -- ``[CACD2000/]AGE_First_Last_NNNN.jpg``: identity and age. GATH's source set (all ``train``).
* ``faceforensics`` -- ``original_sequences/youtube/{c23,c40,raw}/videos/NNN.mp4`` (FaceForensics++; real videos
  only, as FLNet uses them; one identity per video). FLNet's split: 75% / 25% of the videos at random, seeded
  (``seed``).
* ``hdtf`` -- ``{WRA,WDA,RD}_Name_NNN.mp4`` clips (the cut clips of the HDTF release); identity = the name.
  FACIAL's split: train / val / test 5-1-4 by clip, seeded.
* ``mead`` -- ``MNNN/video/VIEW/EMOTION/level_L/NNN.mp4``: speaker, view, emotion, intensity level. MEAD defines no
  split; thead holds out 20% of the speakers, seeded, as ``test``.
* ``voxceleb2`` -- ``{dev,test}/mp4/idNNNNN/VIDEO/NNNNN.mp4``: identity / YouTube video / utterance; the official
  dev / test split.

* ``vidtimit`` -- ``SUBJECT/video/SENTENCE/NNN`` (JPEG frames, no suffix, as released) and
  ``SUBJECT/audio/SENTENCE.wav``: one image row per frame (``sentence``, ``frame``) and one audio row per
  sentence; the head-rotation sequences (``head``, ``head2``, ``head3``) are labelled ``head_rotation``. GATH's
  target set (expressive speech); no split is published: thead holds out 20% of the subjects, seeded.
* ``tcd-timit`` -- ``volunteers/NNG/straightcam/SENTENCE.mp4`` (and ``lipspeakers/``): FLNet's set, the straight
  camera only (the 30-degree camera's clips are listed as skipped). Split: the corpus's recommended volunteer
  split (17 test volunteers, ``TCD_TIMIT_TEST``); the three lipspeakers are ``train``.
* ``gtav`` -- GTAV Face Database: ``IDnn/NN.bmp`` (44 people, 27 pictures each: poses and lighting): GATH's source
  set role (stills of many people), all ``train``.
* ``facewarehouse`` -- ``Tester_N/TrainingPose/pose_K.png`` (150 people, 20 expressions each; pose_0 is neutral):
  ``expression`` = K; GATH's source set, all ``train``. The 3D meshes (``.obj``) are listed as skipped.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from thead.errors import InputError

KIND = "thead.corpus"


@dataclass
class Row:
    """One medium of a corpus: its path and labels (``meta``)."""

    path: Path
    meta: dict


@dataclass
class Prepared:
    """What a recipe found: the rows, and the files it did not recognise."""

    rows: list[Row]
    skipped: list[Path] = field(default_factory=list)


def _walk(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            yield p


def _need(root: Path, ok: bool, what: str, corpus: str) -> None:
    if not ok:
        raise InputError(f"{root}: does not look like {corpus} ({what} not found)")


# ---- RAVDESS ------------------------------------------------------------------------------------------------------
RAVDESS_EMOTION = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                   "07": "disgust", "08": "surprised"}
RAVDESS_MODALITY = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
_RAV = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.(mp4|wav)$", re.I)


def ravdess(root: Path, seed: int = 0) -> Prepared:
    actors = sorted(d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"Actor_\d\d", d.name))
    _need(root, bool(actors), "Actor_NN folders", "RAVDESS")
    test = {a.name for a in actors[-4:]} if len(actors) >= 8 else set()
    out = Prepared([])
    for a in actors:
        for p in _walk(a):
            m = _RAV.match(p.name)
            if not m or m.group(7) != a.name[-2:]:
                out.skipped.append(p)
                continue
            mod, ch, emo, inten, stmt, rep, actor, _ = m.groups()
            out.rows.append(Row(p, dict(identity=a.name, emotion=RAVDESS_EMOTION[emo],
                                        intensity="normal" if inten == "01" else "strong",
                                        modality=RAVDESS_MODALITY[mod], vocal_channel="speech" if ch == "01" else
                                        "song", statement=int(stmt), repetition=int(rep),
                                        split="test" if a.name in test else "train")))
    return out


# ---- CACD ---------------------------------------------------------------------------------------------------------
_CACD = re.compile(r"^(\d{1,3})_(.+)_(\d{4})\.jpe?g$", re.I)


def cacd(root: Path, seed: int = 0) -> Prepared:
    base = root / "CACD2000" if (root / "CACD2000").is_dir() else root
    files = sorted(p for p in base.iterdir() if p.is_file() and not p.name.startswith("."))
    good = [p for p in files if _CACD.match(p.name)]
    _need(root, bool(good), "AGE_Name_NNNN.jpg images (CACD2000/)", "CACD")
    out = Prepared([])
    for p in files:
        m = _CACD.match(p.name)
        if not m:
            out.skipped.append(p)
            continue
        out.rows.append(Row(p, dict(identity=m.group(2), age=int(m.group(1)), split="train")))
    return out


# ---- FaceForensics(++) --------------------------------------------------------------------------------------------
def faceforensics(root: Path, seed: int = 0) -> Prepared:
    base = root / "original_sequences" / "youtube"
    comps = [c for c in ("c23", "c40", "raw") if (base / c / "videos").is_dir()]
    _need(root, bool(comps), "original_sequences/youtube/{c23,c40,raw}/videos", "FaceForensics++")
    comp = comps[0]
    out = Prepared([])
    vids = []
    for p in _walk(base / comp / "videos"):
        (vids if p.suffix.lower() == ".mp4" else out.skipped).append(p)
    order = list(range(len(vids)))
    random.Random(seed).shuffle(order)
    n_test = round(len(vids) * 0.25)
    test = set(order[:n_test])
    for i, p in enumerate(vids):
        out.rows.append(Row(p, dict(identity=f"ff_{p.stem}", video=p.stem, compression=comp,
                                    split="test" if i in test else "train")))
    manip = root / "manipulated_sequences"
    if manip.is_dir():
        out.skipped.extend(q for q in _walk(manip) if q.suffix.lower() == ".mp4")
    return out


# ---- HDTF ---------------------------------------------------------------------------------------------------------
_HDTF = re.compile(r"^(WRA|WDA|RD)_(.+?)_(\d{3})\.mp4$")


def _split_514(n: int, seed: int) -> list[str]:
    """train / val / test in the ratio 5:1:4 (FACIAL's split), a seeded shuffle of n items."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_train, n_val = round(n * 0.5), round(n * 0.1)
    split = [""] * n
    for k, i in enumerate(order):
        split[i] = "train" if k < n_train else "val" if k < n_train + n_val else "test"
    return split


def hdtf(root: Path, seed: int = 0) -> Prepared:
    files = list(_walk(root))
    clips = [p for p in files if _HDTF.match(p.name)]
    _need(root, bool(clips), "{WRA,WDA,RD}_Name_NNN.mp4 clips", "HDTF")
    out = Prepared([], [p for p in files if not _HDTF.match(p.name)])
    for p, sp in zip(clips, _split_514(len(clips), seed)):
        m = _HDTF.match(p.name)
        out.rows.append(Row(p, dict(identity=m.group(2), source_set=m.group(1), clip=int(m.group(3)), split=sp)))
    return out


# ---- MEAD ---------------------------------------------------------------------------------------------------------
_MEAD_VIEWS = ("front", "down", "left_30", "left_60", "right_30", "right_60", "top")


def mead(root: Path, seed: int = 0) -> Prepared:
    speakers = sorted(d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"[MW]\d{3}", d.name)
                      and (d / "video").is_dir())
    _need(root, bool(speakers), "speaker folders MNNN/WNNN with a video/ folder", "MEAD")
    test = _held_out([s.name for s in speakers], seed)
    out = Prepared([])
    for s in speakers:
        for p in _walk(s / "video"):
            parts = p.relative_to(s / "video").parts
            ok = (len(parts) == 4 and parts[0] in _MEAD_VIEWS and re.fullmatch(r"level_\d", parts[2])
                  and p.suffix.lower() == ".mp4")
            if not ok:
                out.skipped.append(p)
                continue
            view, emo, level, _ = parts
            out.rows.append(Row(p, dict(identity=s.name, view=view, emotion=emo, intensity=int(level[-1]),
                                        utterance=p.stem, split="test" if s.name in test else "train")))
    return out


# ---- VoxCeleb2 ----------------------------------------------------------------------------------------------------
def voxceleb2(root: Path, seed: int = 0) -> Prepared:
    parts = [d for d in ("dev", "test") if (root / d / "mp4").is_dir()]
    _need(root, bool(parts), "dev/mp4 or test/mp4", "VoxCeleb2")
    out = Prepared([])
    for part in parts:
        for p in _walk(root / part / "mp4"):
            rel = p.relative_to(root / part / "mp4").parts
            if len(rel) != 3 or not re.fullmatch(r"id\d{5}", rel[0]) or p.suffix.lower() != ".mp4":
                out.skipped.append(p)
                continue
            out.rows.append(Row(p, dict(identity=rel[0], video=rel[1], utterance=p.stem,
                                        split="train" if part == "dev" else "test")))
    return out


# ---- VidTIMIT -----------------------------------------------------------------------------------------------------
_VIDTIMIT_SUBJECT = re.compile(r"^[fm][a-z]{3}\d$")
_VIDTIMIT_HEAD = {"head", "head2", "head3"}


def _held_out(names: list[str], seed: int, fraction: float = 0.2) -> set[str]:
    order = list(range(len(names)))
    random.Random(seed).shuffle(order)
    return {names[i] for i in order[:round(len(names) * fraction)]}


def vidtimit(root: Path, seed: int = 0) -> Prepared:
    from thead.media import media_type

    subjects = sorted(d for d in root.iterdir() if d.is_dir() and _VIDTIMIT_SUBJECT.match(d.name)
                      and ((d / "video").is_dir() or (d / "audio").is_dir()))
    _need(root, bool(subjects), "subject folders (e.g. fadg0) with video/ and audio/", "VidTIMIT")
    test = _held_out([s.name for s in subjects], seed)
    out = Prepared([])
    for s in subjects:
        sp = "test" if s.name in test else "train"
        for p in _walk(s):
            rel = p.relative_to(s).parts
            if len(rel) == 3 and rel[0] == "video" and re.fullmatch(r"\d{3}(\.jpe?g)?", p.name, re.I) \
                    and media_type(p) == "image":
                out.rows.append(Row(p, dict(identity=s.name, sentence=rel[1], frame=int(p.name[:3]),
                                            head_rotation=rel[1] in _VIDTIMIT_HEAD, split=sp)))
            elif len(rel) == 2 and rel[0] == "audio" and p.suffix.lower() == ".wav":
                out.rows.append(Row(p, dict(identity=s.name, sentence=p.stem, split=sp)))
            else:
                out.skipped.append(p)
    return out


# ---- TCD-TIMIT ----------------------------------------------------------------------------------------------------
TCD_TIMIT_TEST = ("08F", "09F", "15F", "18M", "25M", "28M", "33F", "34M", "36F", "41M", "44F", "45F", "49F", "54M",
                  "55F", "56M", "58F")  # the corpus's recommended speaker-independent test volunteers


def tcd_timit(root: Path, seed: int = 0) -> Prepared:
    groups = [g for g in ("volunteers", "lipspeakers") if (root / g).is_dir()]
    _need(root, "volunteers" in groups, "volunteers/NNG/straightcam", "TCD-TIMIT")
    out = Prepared([])
    for g in groups:
        for p in _walk(root / g):
            rel = p.relative_to(root / g).parts
            if len(rel) == 3 and rel[1] == "straightcam" and p.suffix.lower() == ".mp4":
                test = g == "volunteers" and rel[0] in TCD_TIMIT_TEST
                out.rows.append(Row(p, dict(identity=f"{g[:-1]}_{rel[0]}", speaker_group=g, sentence=p.stem,
                                            camera="straight", split="test" if test else "train")))
            else:
                out.skipped.append(p)
    return out


# ---- GTAV face database -------------------------------------------------------------------------------------------
def gtav(root: Path, seed: int = 0) -> Prepared:
    people = sorted(d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"ID\d{2}", d.name, re.I))
    _need(root, bool(people), "IDnn folders of NN.bmp pictures", "the GTAV face database")
    out = Prepared([])
    for d in people:
        for p in _walk(d):
            if p.parent == d and re.fullmatch(r"\d{2}\.(bmp|jpe?g)", p.name, re.I):
                out.rows.append(Row(p, dict(identity=f"gtav_{d.name.upper()}", picture=int(p.name[:2]),
                                            split="train")))
            else:
                out.skipped.append(p)
    return out


# ---- FaceWarehouse ------------------------------------------------------------------------------------------------
def facewarehouse(root: Path, seed: int = 0) -> Prepared:
    testers = sorted((d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"Tester_\d+", d.name)),
                     key=lambda d: int(d.name.split("_")[1]))
    _need(root, any((d / "TrainingPose").is_dir() for d in testers), "Tester_N/TrainingPose folders",
          "FaceWarehouse")
    out = Prepared([])
    for d in testers:
        for p in _walk(d):
            m = re.fullmatch(r"pose_(\d+)\.(png|jpe?g)", p.name, re.I)
            if m and p.parent == d / "TrainingPose":
                k = int(m.group(1))
                out.rows.append(Row(p, dict(identity=f"fw_{d.name}", expression=k, neutral=k == 0,
                                            split="train")))
            else:
                out.skipped.append(p)
    return out


RECIPES: dict[str, Callable[[Path, int], Prepared]] = {
    "ravdess": ravdess, "cacd": cacd, "faceforensics": faceforensics, "hdtf": hdtf, "mead": mead,
    "voxceleb2": voxceleb2, "vidtimit": vidtimit, "tcd-timit": tcd_timit, "gtav": gtav,
    "facewarehouse": facewarehouse,
}


def prepare(corpus: str, root: Path, out_dir: Path, seed: int = 0, probe: bool = True, progress: bool = True,
            argv: Optional[list[str]] = None) -> tuple[Path, Prepared]:
    """Write ``out_dir/manifest.json`` (kind ``thead.corpus``) for ``corpus`` at ``root``.

    Each item: ``source`` (the medium, relative to the manifest), status ``done``, ``meta`` = the recipe's labels +
    ``corpus``, ``media_type``, ``size_bytes`` and, with ``probe``, ``duration_s`` (ffprobe; NaN-free: a file
    ffprobe cannot read is listed in the summary as skipped instead).

    Returns:
        (manifest path, what the recipe found).

    Raises:
        InputError: unknown corpus, ROOT missing or not the corpus's layout (one line naming what is missing), or
            no medium found.
    """
    from rich.progress import Progress

    from thead.manifest import Item, Manifest, make_producer, write_manifest
    from thead.manifest.paths import check_id, is_safe_id
    from thead.media import media_type, probe_video
    from thead.runner import safe_id

    if corpus not in RECIPES:
        raise InputError(f"unknown corpus {corpus!r} (recipes: {', '.join(RECIPES)})")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    found = RECIPES[corpus](root, seed)
    if not found.rows:
        raise InputError(f"{root}: no {corpus} media found")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    items, kept, seen = [], [], set()
    with Progress(disable=not progress) as prog:
        task = prog.add_task(f"prepare {corpus}", total=len(found.rows))
        for r in found.rows:
            prog.advance(task)
            rel = r.path.relative_to(root)
            iid = safe_id("_".join(rel.with_suffix("").parts))
            if iid in seen or not is_safe_id(iid):
                iid = safe_id(f"{iid}_{len(seen)}")
            check_id(iid)
            seen.add(iid)
            mt = media_type(r.path)
            meta = dict(r.meta, corpus=corpus, media_type=mt, size_bytes=r.path.stat().st_size)
            if probe and mt in ("video", "audio"):
                try:
                    info = probe_video(r.path) if mt == "video" else None
                    meta["duration_s"] = round(float(info.duration_s), 3) if info else _audio_seconds(r.path)
                except InputError:
                    found.skipped.append(r.path)
                    continue
            kept.append(r)
            items.append(Item(id=iid, status="done", source=_relpath(r.path.resolve(), out_dir), meta=meta))
    found.rows = kept
    m = Manifest(kind=KIND, producer=make_producer(f"prepare {corpus}", dict(root=str(root.resolve()), seed=seed,
                                                                             probe=probe), argv),
                 conventions={"split": "train / val / test as the recipe's docstring says (thead.recipes)",
                              "identity": "one person; the labels come from the corpus's own layout"},
                 items=items)
    path = out_dir / "manifest.json"
    write_manifest(m, path)
    return path, found


def _audio_seconds(path: Path) -> Optional[float]:
    from thead.media.video import probe

    d = probe(path).get("format", {}).get("duration")
    return round(float(d), 3) if d else None


def _relpath(p: Path, start: Path) -> str:
    import os

    return os.path.relpath(p, start)
