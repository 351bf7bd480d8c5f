"""Dataset recipes on small trees laid out as each corpus documents, filled with copies of real sample media:
labels from the layout, the papers' splits, sizes and durations, the files a recipe does not recognise, the errors,
and the labels flowing into a stage's manifest."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli, shared
from thead.errors import InputError
from thead.recipes import prepare

CLIP = shared("videos/LivePortrait_d20.mp4")
CLIP2 = shared("videos/video-retalking_face_3.mp4")
WAV = shared("audio/SadTalker_RD_Radio34_002.wav")
FACE = shared("portraits/SadTalker_happy1.png")


def _put(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _items(manifest: Path) -> dict:
    m = json.loads(manifest.read_text())
    assert m["kind"] == "thead.corpus"
    return {it["id"]: it for it in m["items"]}


@pytest.mark.slow
def test_ravdess_labels_split_and_skips(tmp_path):
    root = tmp_path / "RAVDESS"
    for a in range(1, 9):
        _put(CLIP, root / f"Actor_{a:02d}" / f"01-01-03-02-01-01-{a:02d}.mp4")  # AV, speech, happy, strong
    _put(WAV, root / "Actor_01" / "03-01-05-01-02-02-01.wav")  # audio-only, angry, normal, statement 2
    _put(WAV, root / "Actor_02" / "03-01-05-01-02-02-07.wav")  # the actor field disagrees with the folder
    (root / "Actor_01" / "notes.txt").write_text("x")
    path, found = prepare("ravdess", root, tmp_path / "out", progress=False)
    items = _items(path)
    assert len(items) == 9 and len(found.skipped) == 2
    v = items["Actor_01_01-01-03-02-01-01-01"]["meta"]
    assert (v["identity"], v["emotion"], v["intensity"], v["modality"], v["vocal_channel"], v["split"]) == \
        ("Actor_01", "happy", "strong", "audio-video", "speech", "train")
    assert v["duration_s"] > 1 and v["size_bytes"] == CLIP.stat().st_size and v["media_type"] == "video"
    a = items["Actor_01_03-01-05-01-02-02-01"]["meta"]
    assert (a["emotion"], a["intensity"], a["statement"], a["repetition"], a["media_type"]) == \
        ("angry", "normal", 2, 2, "audio")
    # GATH's four held-out actors: the last four
    assert {it["meta"]["identity"] for it in items.values() if it["meta"]["split"] == "test"} == \
        {f"Actor_{a:02d}" for a in (5, 6, 7, 8)}
    assert (path.parent / items["Actor_03_01-01-03-02-01-01-03"]["source"]).resolve() == \
        (root / "Actor_03" / "01-01-03-02-01-01-03.mp4").resolve()


def test_cacd_faceforensics_hdtf_mead_voxceleb2(tmp_path):
    cacd = tmp_path / "CACD"
    _put(FACE, cacd / "CACD2000" / "53_Robin_Williams_0001.jpg")
    _put(FACE, cacd / "CACD2000" / "16_Chris_Brown_0007.jpg")
    _put(FACE, cacd / "CACD2000" / "thumbs.db")
    path, found = prepare("cacd", cacd, tmp_path / "cacd", progress=False)
    meta = [it["meta"] for it in _items(path).values()]
    assert sorted((m["identity"], m["age"]) for m in meta) == [("Chris_Brown", 16), ("Robin_Williams", 53)]
    assert len(found.skipped) == 1

    ff = tmp_path / "FF"
    for i in range(8):
        _put(CLIP2, ff / "original_sequences" / "youtube" / "c23" / "videos" / f"{i:03d}.mp4")
    _put(CLIP2, ff / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "000_003.mp4")
    path, found = prepare("faceforensics", ff, tmp_path / "ff", progress=False, probe=False)
    items = _items(path)
    assert Counter(it["meta"]["split"] for it in items.values()) == {"train": 6, "test": 2}
    assert len(found.skipped) == 1 and "duration_s" not in next(iter(items.values()))["meta"]
    again, _ = prepare("faceforensics", ff, tmp_path / "ff2", progress=False, probe=False)
    assert {k: v["meta"]["split"] for k, v in _items(again).items()} == \
        {k: v["meta"]["split"] for k, v in items.items()}  # seeded: the same split every time

    hdtf = tmp_path / "HDTF"
    for i in range(10):
        _put(CLIP2, hdtf / f"WRA_AdamSchiff_{i:03d}.mp4")
    path, _ = prepare("hdtf", hdtf, tmp_path / "hdtf", progress=False, probe=False)
    items = _items(path)
    assert Counter(it["meta"]["split"] for it in items.values()) == {"train": 5, "val": 1, "test": 4}
    assert {it["meta"]["identity"] for it in items.values()} == {"AdamSchiff"}

    mead = tmp_path / "MEAD"
    for s in ("M003", "M005", "W009", "W011", "W014"):
        _put(CLIP2, mead / s / "video" / "front" / "angry" / "level_3" / "001.mp4")
    _put(CLIP2, mead / "M003" / "video" / "front" / "angry" / "001.mp4")  # no level folder
    path, found = prepare("mead", mead, tmp_path / "mead", progress=False, probe=False)
    items = _items(path)
    m = items["M003_video_front_angry_level_3_001"]["meta"]
    assert (m["identity"], m["view"], m["emotion"], m["intensity"]) == ("M003", "front", "angry", 3)
    assert Counter(it["meta"]["split"] for it in items.values()) == {"train": 4, "test": 1}
    assert len(found.skipped) == 1

    vox = tmp_path / "VoxCeleb2"
    _put(CLIP2, vox / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00001.mp4")
    _put(CLIP2, vox / "test" / "mp4" / "id00017" / "01dfn2spqyE" / "00001.mp4")
    path, _ = prepare("voxceleb2", vox, tmp_path / "vox", progress=False, probe=False)
    got = sorted((it["meta"]["identity"], it["meta"]["video"], it["meta"]["split"]) for it in _items(path).values())
    assert got == [("id00012", "21Uxsk56VDQ", "train"), ("id00017", "01dfn2spqyE", "test")]


def _jpeg_frames(n: int, dst: Path) -> list[Path]:
    """The first n frames of a real clip as JPEG files named 001, 002, ... (no suffix, as VidTIMIT has them)."""
    import cv2

    from thead.media import FrameReader

    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for k, _, fr in FrameReader(CLIP, max_frames=n):
        ok, buf = cv2.imencode(".jpg", fr[..., ::-1])
        (dst / f"{k + 1:03d}").write_bytes(buf.tobytes())
        out.append(dst / f"{k + 1:03d}")
    return out


@pytest.mark.slow
def test_vidtimit_frames_audio_and_held_out_subjects(tmp_path):
    root = tmp_path / "VidTIMIT"
    subjects = ["fadg0", "faks0", "mccm0", "mdab0", "mjar0"]
    for s in subjects:
        _jpeg_frames(2, root / s / "video" / "sa1")
        _put(WAV, root / s / "audio" / "sa1.wav")
    _jpeg_frames(1, root / "fadg0" / "video" / "head")
    (root / "fadg0" / "video" / "sa1" / "Thumbs.db").write_bytes(b"x")
    path, found = prepare("vidtimit", root, tmp_path / "out", progress=False)
    items = _items(path)
    assert len(items) == 5 * 3 + 1 and [p.name for p in found.skipped] == ["Thumbs.db"]
    f = items["fadg0_video_sa1_002"]["meta"]
    assert (f["identity"], f["sentence"], f["frame"], f["media_type"], f["head_rotation"]) == \
        ("fadg0", "sa1", 2, "image", False)
    assert items["fadg0_video_head_001"]["meta"]["head_rotation"] is True
    a = items["mccm0_audio_sa1"]["meta"]
    assert a["media_type"] == "audio" and 1 < a["duration_s"] < 60
    test = {it["meta"]["identity"] for it in items.values() if it["meta"]["split"] == "test"}
    assert len(test) == 1  # 20% of the subjects, seeded, every item of a subject on the same side
    assert test == {it["meta"]["identity"] for it in _items(prepare("vidtimit", root, tmp_path / "again",
                                                                     progress=False)[0]).values()
                    if it["meta"]["split"] == "test"}
    # the suffix-less JPEG frames are images to the stages: landmarks found on them
    one = path.parent / "one.json"
    m = json.loads(path.read_text())
    m["items"] = [it for it in m["items"] if it["id"] == "fadg0_video_sa1_001"]
    one.write_text(json.dumps(m))
    r = run_cli("--allow-outside", "extract-landmarks", one, "-o", tmp_path / "lm", "--no-preview", "--no-progress")
    assert r.returncode == 0, r.stderr
    (it,) = json.loads((tmp_path / "lm" / "manifest.json").read_text())["items"]
    assert it["status"] == "done" and it["meta"]["sentence"] == "sa1"


@pytest.mark.slow
def test_tcd_timit_straight_camera_and_recommended_split(tmp_path):
    root = tmp_path / "TCD-TIMIT"
    _put(CLIP, root / "volunteers" / "01M" / "straightcam" / "sa1.mp4")
    _put(CLIP2, root / "volunteers" / "08F" / "straightcam" / "si1234.mp4")
    _put(CLIP, root / "volunteers" / "08F" / "30degcam" / "si1234.mp4")
    _put(CLIP2, root / "lipspeakers" / "Lipspkr1" / "straightcam" / "sx20.mp4")
    path, found = prepare("tcd-timit", root, tmp_path / "out", progress=False)
    items = _items(path)
    assert len(items) == 3 and [p.parent.name for p in found.skipped] == ["30degcam"]
    got = {it["meta"]["identity"]: (it["meta"]["split"], it["meta"]["sentence"]) for it in items.values()}
    assert got == {"volunteer_01M": ("train", "sa1"), "volunteer_08F": ("test", "si1234"),
                   "lipspeaker_Lipspkr1": ("train", "sx20")}
    with pytest.raises(InputError, match="does not look like TCD-TIMIT"):
        prepare("tcd-timit", root / "lipspeakers", tmp_path / "o2", progress=False)


def test_gtav_and_facewarehouse_stills(tmp_path):
    import cv2

    gt = tmp_path / "GTAV"
    img = cv2.imread(str(FACE))
    for person in ("ID01", "ID02"):
        for k in (1, 2):
            (gt / person).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(gt / person / f"{k:02d}.bmp"), img)
    (gt / "ID01" / "readme.txt").write_text("x")
    path, found = prepare("gtav", gt, tmp_path / "g", progress=False)
    items = _items(path)
    assert len(items) == 4 and len(found.skipped) == 1
    m = items["ID02_02"]["meta"]
    assert (m["identity"], m["picture"], m["media_type"], m["split"]) == ("gtav_ID02", 2, "image", "train")
    fw = tmp_path / "FaceWarehouse"
    for t in (1, 12):
        for k in (0, 7):
            _put(FACE, fw / f"Tester_{t}" / "TrainingPose" / f"pose_{k}.png")
    _put(FACE, fw / "Tester_1" / "Blendshape" / "shape_0.png")
    path, found = prepare("facewarehouse", fw, tmp_path / "f", progress=False)
    items = _items(path)
    assert len(items) == 4 and len(found.skipped) == 1
    m = items["Tester_12_TrainingPose_pose_0"]["meta"]
    assert (m["identity"], m["expression"], m["neutral"]) == ("fw_Tester_12", 0, True)
    assert items["Tester_1_TrainingPose_pose_7"]["meta"]["neutral"] is False
    with pytest.raises(InputError, match="does not look like the GTAV face database"):
        prepare("gtav", fw, tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="does not look like FaceWarehouse"):
        prepare("facewarehouse", gt, tmp_path / "x", progress=False)


def test_a_root_that_is_not_the_corpus_is_one_line(tmp_path):
    (tmp_path / "x").mkdir()
    _put(CLIP, tmp_path / "x" / "clip.mp4")
    with pytest.raises(InputError, match=r"does not look like RAVDESS \(Actor_NN folders not found\)"):
        prepare("ravdess", tmp_path / "x", tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="does not look like VoxCeleb2"):
        prepare("voxceleb2", tmp_path / "x", tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="unknown corpus"):
        prepare("lrs3", tmp_path / "x", tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="no such folder"):
        prepare("mead", tmp_path / "nope", tmp_path / "out", progress=False)
    r = run_cli("prepare", "hdtf", tmp_path / "x", "-o", tmp_path / "out")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "does not look like HDTF" in r.stderr


@pytest.mark.slow
def test_labels_flow_into_a_stage(tmp_path):
    root = tmp_path / "RAVDESS"
    _put(CLIP, root / "Actor_01" / "01-01-03-02-01-01-01.mp4")
    _put(CLIP, root / "Actor_02" / "02-01-04-01-01-01-02.mp4")
    r = run_cli("prepare", "ravdess", root, "-o", tmp_path / "corpus", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["identities"] == 2
    r = run_cli("--allow-outside", "extract-landmarks", tmp_path / "corpus" / "manifest.json", "-o",
                tmp_path / "lmk", "--no-preview", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "lmk" / "manifest.json").read_text())
    got = {it["id"]: (it["status"], it["meta"]["identity"], it["meta"]["emotion"]) for it in m["items"]}
    assert got == {"Actor_01_01-01-03-02-01-01-01": ("done", "Actor_01", "happy"),
                   "Actor_02_02-01-04-01-01-01-02": ("done", "Actor_02", "sad")}
