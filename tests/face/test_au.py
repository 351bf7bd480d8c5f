import numpy as np
import pytest

from thead.errors import InputError
from thead.face.au import (AU_COLUMNS, au_from_blendshapes, count_blinks, read_openface_csv, write_openface_csv)
from thead.face.facemodel import load_face_model
from thead.face.fit import fit_landmarks
from thead.face.landmarks import LandmarkExtractor, eye_aspect_ratio
from thead.media import read_image


@pytest.fixture(scope="module")
def ict():
    return load_face_model()


def test_au_mapping_hand_computed(ict):
    w = np.zeros((1, ict.k_exp))
    n = ict.exp_names
    w[0, n.index("mouthSmile_L")] = 0.6
    w[0, n.index("mouthSmile_R")] = 0.2
    w[0, n.index("jawOpen")] = 0.7
    w[0, n.index("mouthClose")] = 0.1
    w[0, n.index("eyeBlink_L")] = 1.0
    w[0, n.index("eyeBlink_R")] = 1.0
    au = dict(zip(AU_COLUMNS, au_from_blendshapes(w, n)[0]))
    assert au["AU12_r"] == pytest.approx(5 * 0.4)  # mean of L and R, times 5
    assert au["AU26_r"] == pytest.approx(3.5)
    assert au["AU27_r"] == pytest.approx(5 * 0.4)  # 2 * 0.7 - 1
    assert au["AU25_r"] == pytest.approx(5 * 0.6)  # jawOpen - mouthClose
    assert au["AU45_r"] == pytest.approx(5.0)
    assert au["AU01_r"] == 0
    with pytest.raises(InputError, match="ICT blendshape"):
        au_from_blendshapes(w, [f"exp{i}" for i in range(ict.k_exp)])


@pytest.mark.slow
def test_smile_has_higher_au12_than_sad(ict, happy, sad):
    ex = LandmarkExtractor()
    au12 = []
    for p in (happy, sad):
        res = ex.image(read_image(p))
        fr = fit_landmarks(ict, res.landmarks)
        au12.append(au_from_blendshapes(fr.expression, ict.exp_names)[0, AU_COLUMNS.index("AU12_r")])
    assert au12[0] > au12[1] + 1.0, au12


@pytest.mark.slow
def test_blinks_show_as_au45_peaks(ict, blink_clip_landmarks):
    lm = blink_clip_landmarks.landmarks
    fr = fit_landmarks(ict, lm)
    au45 = au_from_blendshapes(fr.expression, ict.exp_names)[:, AU_COLUMNS.index("AU45_r")]
    ear = eye_aspect_ratio(lm)
    assert np.corrcoef(au45, -ear)[0, 1] > 0.8
    closed = ear < 0.6 * np.median(ear)  # frames where the eyes are visibly shut
    assert closed.any() and au45[closed].mean() > au45[~closed].mean() + 0.8
    n, runs = count_blinks(au45, 30.0)
    assert n >= 2 and all(closed[a:b].any() or closed[max(0, a - 2):b + 2].any() for a, b in runs)


def test_openface_csv_round_trip_and_leading_spaces(tmp_path):
    p = tmp_path / "of.csv"
    p.write_text("frame, face_id, timestamp, confidence, success, AU01_r, AU12_r, AU45_r, AU01_c\n"
                 "1, 0, 0.000, 0.98, 1, 0.50, 2.25, 0.00, 1\n"
                 "2, 0, 0.033, 0.97, 1, 0.40, 2.50, 3.10, 1\n")
    au, cols, ts, ok = read_openface_csv(p)
    assert cols == ["AU01_r", "AU12_r", "AU45_r"] and au.shape == (2, 3) and au[1, 2] == pytest.approx(3.1)
    assert ts[1] == pytest.approx(0.033) and ok.all()
    out = tmp_path / "w.csv"
    write_openface_csv(out, au, ts, ok, cols)
    au2, cols2, ts2, _ = read_openface_csv(out)
    assert cols2 == cols and np.allclose(au2, au, atol=0.01)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no AUxx_r columns"):
        read_openface_csv(tmp_path / "x.csv")


def test_au_arrays_round_trip_and_refuse_bad_files(tmp_path):
    from thead.face.au import load_au_arrays, read_au_item, save_au_arrays
    from thead.manifest import Item, ManifestWriter, load_manifest, make_producer

    au = np.array([[0.123456, 2.5], [4.999, 0.0]], np.float32)
    p = save_au_arrays(tmp_path / "x.au.npz", au, ["AU12_r", "AU45_r"], np.array([0.0, 0.04]), np.array([1, 0]))
    au2, names, ts, ok = load_au_arrays(p)
    assert np.array_equal(au2, au) and names == ["AU12_r", "AU45_r"] and ok.tolist() == [True, False]
    assert ts[1] == pytest.approx(0.04)
    with pytest.raises(ValueError, match="non-finite"):
        save_au_arrays(tmp_path / "y.au.npz", au * np.nan, ["AU12_r", "AU45_r"], ts, ok)
    with pytest.raises(ValueError, match="do not match"):
        save_au_arrays(tmp_path / "y.au.npz", au, ["AU12_r"], ts, ok)
    (tmp_path / "bad.au.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a thead AU array file"):
        load_au_arrays(tmp_path / "bad.au.npz")
    # a manifest written before the arrays existed: its items have only the CSV, which is read instead
    write_openface_csv(tmp_path / "old.au.csv", au, ts, ok, ["AU12_r", "AU45_r"])
    w = ManifestWriter(tmp_path, "thead.au", make_producer("extract-au", {}, None))
    w.add(Item(id="old", status="done", outputs={"csv": "old.au.csv"}))
    w.add(Item(id="new", status="done", outputs={"au": "x.au.npz", "csv": "old.au.csv"}))
    w.finish()
    lm = load_manifest(tmp_path / "manifest.json", "thead.au")
    items = {it.id: it for it in lm.done()}
    old = read_au_item(lm, items["old"])
    assert np.allclose(old[0], au, atol=0.005) and not np.array_equal(old[0], au)  # 2 decimals
    assert np.array_equal(read_au_item(lm, items["new"])[0], au)  # full precision


def test_count_blinks():
    a = np.zeros(100)
    a[10:14] = 3
    a[50:53] = 1.5
    a[70:] = 4  # 30 frames at 25 fps: longer than a blink
    n, runs = count_blinks(a, 25.0)
    assert n == 2 and runs == [(10, 14), (50, 53)]
