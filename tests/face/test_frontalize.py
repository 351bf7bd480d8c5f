import numpy as np
import pytest

from tests.conftest import shared
from thead.face.facemodel import load_face_model
from thead.face.frontalize import Frontalizer
from thead.face.landmarks import LandmarkExtractor, interocular
from thead.face.render import Rasterizer
from thead.media import read_image


@pytest.fixture(scope="module")
def front():
    return Frontalizer(load_face_model(), size=100)


def _lmk(ex, img):
    res = ex.image(img)
    assert res.detected[0]
    return res.landmarks[0]


def test_reference_view(front):
    assert front.ref_xyz.shape == (100, 100, 3) and front.ref_mask.mean() > 0.5
    # eye sockets were filled: the whole face interior is covered
    c = 50
    assert front.ref_mask[30:70, 25:75].all()
    # symmetric reference: x of mirrored pixels is opposite
    row = front.ref_xyz[45, front.ref_mask[45]]
    assert abs(row[0, 0] + row[-1, 0]) < 1.0 and c == 50


@pytest.mark.slow
def test_frontalized_faces_land_on_the_reference_layout(front, happy):
    """Landmarks detected on the frontalized crops of two differently posed portraits coincide with each other
    and lie near the reference landmark positions, much closer than in the original images."""
    import cv2

    ex = LandmarkExtractor()
    ref_pts = []
    for p in (happy, shared("portraits/GeneFace_d3dr_000031.jpg")):
        img = read_image(p)
        out, weight = front(img, _lmk(ex, img))
        assert out.shape == (100, 100, 3) and out.dtype == np.uint8
        assert 0 <= weight.min() and weight.max() <= 1
        big = cv2.resize(out, (400, 400), interpolation=cv2.INTER_CUBIC)
        ref_pts.append(_lmk(ex, big) / 4.0)
    d = np.linalg.norm(ref_pts[0] - ref_pts[1], axis=-1)[17:].mean() / interocular(ref_pts[0])
    assert d < 0.1, d
    # the eyes sit level and where the reference puts them
    for pts in ref_pts:
        assert abs(pts[36:42, 1].mean() - pts[42:48, 1].mean()) < 3.0


@pytest.mark.slow
def test_turned_face_uses_soft_symmetry(front):
    img = read_image(shared("portraits/GeneFace_d3dr_000002.jpg"))  # slight yaw
    ex = LandmarkExtractor()
    _, weight = front(img, _lmk(ex, img))
    left, right = weight[:, :50].mean(), weight[:, 50:].mean()
    assert max(left, right) > 0.01 and min(left, right) < 0.5 * max(left, right)


def test_rasterizer_is_deterministic_and_z_buffered():
    r = Rasterizer(64, 64)
    v = np.array([[8, 8, 0], [56, 8, 0], [8, 56, 0], [20, 20, 5], [60, 20, 5], [20, 60, 5]], np.float32)
    tri = np.array([[0, 1, 2], [3, 4, 5]])
    attr = np.array([[1.0], [1], [1], [2], [2], [2]])
    a1, m1 = r.render(v, tri, attr)
    a2, _ = r.render(v, tri, attr)
    assert (a1 == a2).all()
    assert a1[30, 30, 0] == pytest.approx(2.0)  # the nearer triangle wins where they overlap
    assert a1[10, 10, 0] == pytest.approx(1.0) and not m1[2, 62]


@pytest.mark.slow
def test_expression_flow_basis_moves_the_chin_for_jaw_open_and_not_the_forehead(front):
    model = load_face_model()
    B = front.expression_flow_basis(model)
    assert B.shape == (model.k_exp, 2, 100, 100) and B.dtype == np.float32 and np.isfinite(B).all()
    jaw = B[model.exp_names.index("jawOpen")]
    ys = np.nonzero(front.ref_mask.any(1))[0]
    chin_row = int(front.landmarks_px[8, 1])
    # the chin goes down (image y grows) by several pixels per unit weight; the forehead stays
    assert jaw[1, chin_row, 50] > 3.0
    assert abs(jaw[1, ys.min() + 3, 50]) < 0.2 and abs(jaw[0, chin_row, 50]) < 1.0
    # smiling pulls the left mouth corner (image right, the subject's left) outwards/up, not down
    smile = B[model.exp_names.index("mouthSmile_L")] + B[model.exp_names.index("mouthSmile_R")]
    cx, cy = np.round(front.landmarks_px[54]).astype(int)
    assert smile[1, cy, cx] < -0.5


def test_expression_flow_basis_refuses_another_face_model(front):
    from dataclasses import replace

    model = load_face_model()
    small = replace(model, mean_shape=model.mean_shape[:10])
    with pytest.raises(ValueError, match="face model"):
        front.expression_flow_basis(small)
