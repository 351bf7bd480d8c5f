"""BFM 2009 conversion on a small model laid out as the published files (01_MorphableModel.mat, Exp_Pca.bin,
std_exp.txt, the index and info .mat files): the output loads as a thead face model, its bases are the scaled,
front-vertex restricted inputs, and bad folders are one-line errors."""

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from tests.conftest import run_cli
from thead.errors import InputError
from thead.face.bfm import SCALE, convert_bfm09, read_expression_basis
from thead.face.facemodel import load_face_model

V, N_CROP, N_FRONT, K_SHAPE, K_EXP = 120, 100, 80, 12, 9


def _bfm_folder(root):
    rng = np.random.default_rng(0)
    root.mkdir()
    shape_mu = rng.normal(0, 5e4, (3 * V, 1))
    savemat(root / "01_MorphableModel.mat", dict(
        shapeMU=shape_mu, shapePC=rng.normal(0, 1, (3 * V, K_SHAPE)), shapeEV=np.linspace(3e3, 1e2, K_SHAPE)[:, None],
        texMU=rng.uniform(0, 255, (3 * V, 1)), texPC=rng.normal(0, 1, (3 * V, K_SHAPE)),
        texEV=np.linspace(50, 5, K_SHAPE)[:, None]))
    exp_pc = rng.normal(0, 1, (K_EXP, 3 * N_CROP)).astype("<f4")
    with open(root / "Exp_Pca.bin", "wb") as f:
        f.write(np.int32(K_EXP).astype("<i4").tobytes())
        f.write(rng.normal(0, 1, 3 * N_CROP).astype("<f4").tobytes())
        f.write(exp_pc.tobytes())
    np.savetxt(root / "std_exp.txt", np.linspace(2e4, 1e3, K_EXP))
    trim = np.arange(V - N_CROP, V) + 1  # the crop: the last 100 BFM vertices, 1-based
    savemat(root / "BFM_exp_idx.mat", dict(trimIndex=trim[:, None]))
    front = np.arange(N_CROP - N_FRONT, N_CROP) + 1  # the front: the last 80 of the crop
    savemat(root / "BFM_front_idx.mat", dict(idx=front[:, None]))
    tri = np.stack([np.arange(1, 71), np.arange(2, 72), np.arange(3, 73)], 1)
    savemat(root / "facemodel_info.mat", dict(tri=tri, keypoints=np.arange(1, 69)[None], point_buf=tri[:, :2],
                                              tri_mask2=tri[:10], frontmask2_idx=front[:50, None],
                                              skinmask=np.ones((1, N_FRONT))))
    return root, shape_mu, exp_pc, trim - 1, front - 1


def test_conversion_loads_as_a_face_model_with_scaled_front_bases(tmp_path):
    folder, shape_mu, exp_pc, trim, front = _bfm_folder(tmp_path / "BFM")
    out = convert_bfm09(folder, tmp_path / "out" / "BFM_model_front.mat", n_id=8, n_exp=6, n_tex=8)
    assert [p.name for p in out.parent.iterdir()] == ["BFM_model_front.mat"]  # no temporary left
    model = load_face_model(str(out))
    assert (model.n_vertices, model.k_id, model.k_exp) == (N_FRONT, 8, 6)
    assert model.landmarks68.tolist() == list(range(68)) and model.triangles.min() == 0
    m = loadmat(str(out))
    src = loadmat(str(folder / "01_MorphableModel.mat"))
    v = trim[front[5]]  # the 6th front vertex, in BFM numbering
    want_id = src["shapePC"][3 * v:3 * v + 3, 2] * src["shapeEV"][2, 0] * SCALE
    np.testing.assert_allclose(m["idBase"][15:18, 2], want_id, rtol=1e-5)
    want_exp = exp_pc[4, 3 * front[5]:3 * front[5] + 3] * np.loadtxt(folder / "std_exp.txt")[4] * SCALE
    np.testing.assert_allclose(m["exBase"][15:18, 4], want_exp, rtol=1e-5)
    np.testing.assert_allclose(m["meanshape"][0, 15:18], shape_mu[3 * v:3 * v + 3, 0] * SCALE, rtol=1e-5)
    basis, std = read_expression_basis(folder)
    assert basis.shape == (3 * N_CROP, K_EXP) and std.shape == (K_EXP,)


def test_bad_folders_are_one_line_errors(tmp_path):
    folder, *_ = _bfm_folder(tmp_path / "BFM")
    (folder / "Exp_Pca.bin").write_bytes((folder / "Exp_Pca.bin").read_bytes()[:-4])
    with pytest.raises(InputError, match="Exp_Pca.bin: .* bytes"):
        convert_bfm09(folder, tmp_path / "o.mat", n_id=8, n_exp=6, n_tex=8)
    _bfm_folder(tmp_path / "B2")
    with pytest.raises(InputError, match="fewer than 80 identity components"):  # the published sizes: 80 of 199
        convert_bfm09(tmp_path / "B2", tmp_path / "o.mat")
    with pytest.raises(InputError, match="9 expression components, need 64"):
        convert_bfm09(tmp_path / "B2", tmp_path / "o.mat", n_id=8)
    (folder / "facemodel_info.mat").unlink()
    (folder / "std_exp.txt").unlink()
    r = run_cli("weights", "bfm", folder, "-o", tmp_path / "o.mat")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "missing std_exp.txt, facemodel_info.mat" in r.stderr and not (tmp_path / "o.mat").exists()
