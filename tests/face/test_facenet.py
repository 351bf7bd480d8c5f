"""dlib's face-recognition ResNet in torch (issue 11, part 1): the port gives dlib's own descriptors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import EXAMPLES, SHARED


@pytest.fixture(scope="module")
def facenet():
    from thead.face.facenet import load_face_net

    return load_face_net()


def _dlib_refs(paths):
    import dlib

    from thead.face.models_path import FACE_RECOGNITION_RESNET, SHAPE_PREDICTOR_68, dlib_model
    from thead.media import read_image

    rec = dlib.face_recognition_model_v1(str(dlib_model(FACE_RECOGNITION_RESNET)))
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(dlib_model(SHAPE_PREDICTOR_68)))
    out = []
    for p in paths:
        img = read_image(p)
        dets = det(img, 1)
        sh = sp(img, max(dets, key=lambda r: r.area()))
        lm = np.array([[q.x, q.y] for q in sh.parts()], np.float32)
        out.append((img, lm, np.array(rec.compute_face_descriptor(img, sh))))
    return out


@pytest.mark.slow
def test_descriptors_match_dlib_on_real_portraits(facenet):
    import torch

    from thead.face.facenet import face_chips

    paths = sorted((EXAMPLES / "portraits").glob("*.png")) + [SHARED / "portraits" / "LivePortrait_d30.jpg",
                                                            SHARED / "portraits" / "GeneFace_d3dr_000002.jpg"]
    refs = _dlib_refs(paths)
    chips = face_chips([r[0] for r in refs], [r[1] for r in refs])
    assert chips.shape == (len(paths), 150, 150, 3) and chips.dtype == np.uint8
    with torch.no_grad():
        ours = facenet(torch.from_numpy(chips).permute(0, 3, 1, 2).float()).numpy()
    theirs = np.stack([r[2] for r in refs])
    assert np.abs(ours - theirs).max() <= 1e-3
    # and it is a face-identity embedding: different people are far apart
    d = np.linalg.norm(ours[:, None] - ours[None], axis=-1)
    assert (d[~np.eye(len(d), dtype=bool)] > 0.3).all()


def test_features_and_gradients(facenet):
    import torch

    x = torch.full((2, 3, 150, 150), 128.0, requires_grad=True)
    feats = facenet.features(x)
    assert [f.shape[1] for f in feats] == [32, 32, 64, 128, 256, 256]
    # dlib adds a 3x3 and a 4x4 map in level1 by zero-padding to 4x4, so level0 ends at 2x2
    assert [f.shape[-1] for f in feats] == [35, 35, 17, 8, 4, 2]
    facenet(x).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_bad_files_are_one_line_errors(tmp_path):
    from thead.errors import InputError
    from thead.face.facenet import load_face_net
    from thead.face.models_path import FACE_RECOGNITION_RESNET, dlib_model

    data = dlib_model(FACE_RECOGNITION_RESNET).read_bytes()
    (tmp_path / "cut.dat").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.dat").write_bytes(b"\x05hello world" * 10)
    (tmp_path / "other.dat").write_bytes(dlib_model("shape_predictor_68_face_landmarks.dat").read_bytes()[:4096])
    for name, msg in [("cut.dat", "truncated tensor|unexpected end"), ("junk.dat", "not dlib's face-recognition"),
                      ("other.dat", "not dlib's face-recognition"), ("missing.dat", "no such file")]:
        with pytest.raises(InputError, match=msg):
            load_face_net(tmp_path / name)
