import numpy as np
import pytest

from thead.face.facemodel import load_face_model
from thead.face.fit import euler_to_matrix, fit_landmarks, matrix_to_euler, project_vertices


@pytest.fixture(scope="module")
def ict():
    return load_face_model()


def test_bundled_ict_model(ict):
    assert ict.name == "ict-light" and ict.mean_shape.shape == (11248, 3) and ict.k_id == 100 and ict.k_exp == 53
    assert ict.exp_bounds == (0.0, 1.0) and "eyeBlink_L" in ict.exp_names
    # landmark 36 (subject's right outer eye corner) lies at negative x (x points to the subject's left)
    assert ict.mean_shape[ict.landmarks68[36], 0] < 0 < ict.mean_shape[ict.landmarks68[45], 0]


def test_euler_round_trip():
    r = np.array([[0.1, -0.3, 0.2], [-0.2, 0.5, -0.1]])
    R = euler_to_matrix(r)
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(matrix_to_euler(R), r)


def _synthetic_clip(model, T=12, seed=0):
    rng = np.random.default_rng(seed)
    ident = rng.normal(0, 1, model.k_id).astype(np.float32)
    expr = np.zeros((T, model.k_exp), np.float32)
    jaw = model.exp_names.index("jawOpen")
    blink = [model.exp_names.index("eyeBlink_L"), model.exp_names.index("eyeBlink_R")]
    expr[:, jaw] = np.linspace(0, 0.8, T)
    expr[T // 2, blink] = 0.9
    rot = np.stack([np.linspace(-0.1, 0.1, T), np.linspace(0.3, -0.3, T), np.zeros(T)], 1)
    lms = []
    for t in range(T):
        v = model.shape(ident, expr[t])[model.landmarks68]
        lms.append(project_vertices(v, rot[t], np.array([256.0, 256.0]), 12.0)[:, :2])
    return np.array(lms, np.float32), expr, rot


@pytest.mark.slow
def test_fit_recovers_synthetic_motion(ict):
    lm, expr, rot = _synthetic_clip(ict)
    fr = fit_landmarks(ict, lm)
    assert np.median(fr.reproj_err_iod) < 0.01
    assert np.abs(fr.rotation[:, 1] - rot[:, 1]).max() < 0.08  # yaw within ~4.5 degrees
    jaw = ict.exp_names.index("jawOpen")
    assert np.corrcoef(fr.expression[:, jaw], expr[:, jaw])[0, 1] > 0.95
    b = ict.exp_names.index("eyeBlink_L")
    assert np.argmax(fr.expression[:, b]) == len(lm) // 2
    assert fr.expression.min() >= 0 and fr.expression.max() <= 1


@pytest.mark.slow
def test_frames_without_landmarks_are_bridged(ict):
    lm, _, _ = _synthetic_clip(ict)
    lm[4] = np.nan
    fr = fit_landmarks(ict, lm)
    assert not fr.valid[4] and np.isnan(fr.reproj_err_px[4]) and np.isfinite(fr.rotation[4]).all()
    assert fr.rotation[3, 1] > fr.rotation[4, 1] > fr.rotation[5, 1]  # interpolated by the smoothness term


@pytest.mark.slow
def test_real_clip_reprojection_error(ict, clip_landmarks):
    fr = fit_landmarks(ict, clip_landmarks.landmarks)
    assert np.median(fr.reproj_err_iod[fr.valid]) <= 0.03
    assert np.abs(fr.rotation).max() < 1.0


@pytest.mark.slow
def test_bfm_layout_file(tmp_path, ict):
    """A small synthetic BFM_model_front.mat (BFM itself is not redistributable) loads and fits."""
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    V = 400
    keep = np.unique(np.concatenate([ict.landmarks68, rng.choice(ict.n_vertices, V, replace=False)]))[:V]
    keep = np.unique(np.concatenate([ict.landmarks68, keep]))
    mean = ict.mean_shape[keep] * 10.0  # mm-like units
    idb = (ict.id_basis[:80, keep] * 10).reshape(80, -1).T  # (3V, 80), xyz interleaved per vertex
    exb = (ict.exp_basis[:64 if ict.k_exp >= 64 else ict.k_exp, keep] * 10).reshape(-1, len(keep) * 3).T
    kp = np.array([np.where(keep == v)[0][0] for v in ict.landmarks68]) + 1  # 1-based
    tri = np.array([[1, 2, 3], [2, 3, 4]])
    savemat(tmp_path / "BFM_model_front.mat", dict(meanshape=mean.reshape(1, -1), idBase=idb, exBase=exb,
                                                   tri=tri, keypoints=kp[None]))
    bfm = load_face_model(str(tmp_path / "BFM_model_front.mat"))
    assert bfm.name == "bfm" and bfm.exp_bounds is None and bfm.k_id == 80 and bfm.landmarks68.shape == (68,)
    assert np.allclose(bfm.mean_shape[bfm.landmarks68] - bfm.mean_shape.mean(0) * 0,
                       (mean - mean.mean(0))[kp - 1], atol=1e-4)
    lm, _, _ = _synthetic_clip(ict, T=4)
    fr = fit_landmarks(bfm, lm)
    assert np.median(fr.reproj_err_iod) < 0.03
