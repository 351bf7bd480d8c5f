import numpy as np
import pytest


@pytest.fixture(scope="module")
def reference_fit(tmp_path_factory, short_clips):
    """A real 3DMM fit of a short bundled clip and some of its frames."""
    from thead.media import FrameReader
    from thead.stages import fit3dmm

    d = tmp_path_factory.mktemp("render")
    res = fit3dmm.run([short_clips / "a.mp4"], d / "fit", preview=False, progress=False)
    assert res.n_done == 1
    fit = dict(np.load(next((d / "fit").glob("a*.npz"))))
    frames = [f for _, _, f in FrameReader(short_clips / "a.mp4")]
    return fit, frames


def _pose(fit, i, z=1.0):
    from thead.systems.facial.render import Pose

    return Pose(fit["rotation"][i], fit["translation"][i] * z, float(fit["scale"][i]) * z)


def test_eye_regions_follow_eq9_on_the_mean_shape():
    from thead.face.facemodel import load_face_model
    from thead.systems.facial.render import eye_region_vertices

    m = load_face_model()
    left, right = eye_region_vertices(m)
    assert len(left) > 50 and len(right) > 50 and not set(left) & set(right)
    v = m.mean_shape
    assert v[left, 0].mean() < 0 < v[right, 0].mean()  # one region per eye, mirrored
    for eye, idx in ((slice(36, 42), left), (slice(42, 48), right)):
        c = v[m.landmarks68[eye]].mean(0)
        assert np.abs(v[idx, 1] - c[1]).max() < 1.0  # cm, within the eyelids' height


@pytest.mark.slow
def test_renders_are_deterministic_and_look_like_the_reference(reference_fit):
    from thead.face.facemodel import load_face_model
    from thead.systems.facial.render import FaceRenderer, estimate_albedo

    fit, frames = reference_fit
    m = load_face_model()
    idx = list(range(0, len(frames), 6))
    alb = estimate_albedo(m, fit["identity"], [frames[i] for i in idx], fit["expression"][idx],
                          [_pose(fit, i) for i in idx])
    h, w = frames[0].shape[:2]
    R = FaceRenderer(m, fit["identity"], alb, w, h)
    a = R(fit["expression"][3], _pose(fit, 3), 0.0)
    b = R(fit["expression"][3], _pose(fit, 3), 0.0)
    assert a.shape == (h, w, 4) and a.dtype == np.uint8 and np.array_equal(a, b)
    face = a[..., :3].max(-1) > 0
    assert face.mean() > 0.05
    err = np.abs(a[..., :3].astype(int) - frames[3].astype(int))[face].mean()
    assert err < 25  # the albedo-shaded render resembles the real frame where the face is
    # eye attention: inside the projected eye landmarks' box, brighter with the blink value
    closed = R(fit["expression"][3], _pose(fit, 3), 1.0)[..., 3]
    opened = a[..., 3]
    assert set(np.unique(opened)) == {0, 32} and set(np.unique(closed)) == {0, 255}
    assert np.array_equal(opened > 0, closed > 0)
    ys, xs = np.nonzero(closed)
    assert 0.15 * h < ys.mean() < 0.6 * h  # the eyes sit in the upper half of the frame


@pytest.mark.slow
def test_precomputed_identity_part_matches_the_model(reference_fit):
    from thead.face.facemodel import load_face_model
    from thead.systems.facial.render import FaceRenderer

    fit, _ = reference_fit
    m = load_face_model()
    R = FaceRenderer(m, fit["identity"], np.full((m.n_vertices, 3), 0.5, np.float32), 64, 64)
    direct = m.shape(fit["identity"], fit["expression"][0])
    fast = R.base + (fit["expression"][0].astype(np.float32) @ R.exp_basis).reshape(-1, 3)
    np.testing.assert_allclose(fast, direct, atol=1e-4)
