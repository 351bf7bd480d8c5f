"""Basel Face Model 2009 -> the ``BFM_model_front.mat`` layout ``thead.face.facemodel.load_face_model`` reads.

BFM cannot be downloaded by a program (the University of Basel hands it out after registration), so thead cannot
fetch it; a user who has it converts it once:

    thead weights bfm BFM_FOLDER [-o $THEAD_HOME/weights/BFM_model_front.mat]
    thead fit-3dmm ... --model $THEAD_HOME/weights/BFM_model_front.mat

``BFM_FOLDER`` holds the files Deep3DFaceRecon (Deng et al. 2019), which FACIAL builds on, asks for:

- ``01_MorphableModel.mat`` (BFM 2009, PublicMM1): ``shapeMU`` (3V, 1), ``shapePC`` (3V, 199), ``shapeEV`` (199, 1),
  ``texMU``, ``texPC``, ``texEV``; V = 53490 vertices, millimetres x 100 (so / 1e5 gives decimetres);
- ``Exp_Pca.bin`` and ``std_exp.txt``: the expression PCA of Guo et al. ("CNN-based real-time dense face
  reconstruction", built on FaceWarehouse) over its 53215-vertex crop of the BFM: int32 K, float32 mean (3N),
  float32 basis (K, 3N) row-major; the K standard deviations as text;
- ``BFM_exp_idx.mat`` (``trimIndex``: the 53215 BFM vertices of that crop, 1-based), ``BFM_front_idx.mat``
  (``idx``: the 35709 front-face vertices of the crop, 1-based);
- ``facemodel_info.mat``: ``tri``, ``keypoints`` (68 ibug landmarks), ``point_buf``, ``tri_mask2``,
  ``frontmask2_idx``, ``skinmask`` of the front face (1-based), copied as they are.

The conversion is Deep3DFaceRecon's ``transferBFM09``: bases scaled by their standard deviations (so coefficients
are ~N(0, 1)) and by 1e-5, the first 80 identity / 64 expression / 80 texture components, restricted to the front
vertices. Each file is checked for the arrays and sizes it must have; a missing or inconsistent one is refused
with one line naming it. The output is written through a temporary name and moved into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thead.errors import InputError

N_ID, N_EXP, N_TEX = 80, 64, 80
SCALE = 1e-5  # BFM units -> decimetres, as Deep3DFaceRecon
FILES = ("01_MorphableModel.mat", "Exp_Pca.bin", "std_exp.txt", "BFM_exp_idx.mat", "BFM_front_idx.mat",
         "facemodel_info.mat")
INFO_KEYS = ("tri", "keypoints", "point_buf", "tri_mask2", "frontmask2_idx", "skinmask")


def _mat(path: Path, keys: tuple[str, ...]) -> dict:
    from scipy.io import loadmat

    try:
        m = loadmat(str(path))
    except Exception as e:  # scipy raises several types for bad files
        raise InputError(f"{path}: unreadable .mat file ({e})") from None
    missing = [k for k in keys if k not in m]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}")
    return m


def read_expression_basis(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """``Exp_Pca.bin`` + ``std_exp.txt`` -> (basis (3N, K) float32, standard deviations (K,)). N is read from the
    file's size (53215 in the published file).

    Raises:
        InputError: a size that is not 4 + 4 * 3N * (1 + K) bytes, or a std count other than K.
    """
    path = Path(folder) / "Exp_Pca.bin"
    raw = path.read_bytes()
    if len(raw) < 4:
        raise InputError(f"{path}: too short")
    k = int(np.frombuffer(raw[:4], "<i4")[0])
    floats = (len(raw) - 4) // 4
    if k <= 0 or (len(raw) - 4) % 4 or floats % (3 * (1 + k)):
        raise InputError(f"{path}: {len(raw)} bytes is not an int32 count K={k} + float32 mean and K x 3N basis")
    n3 = floats // (1 + k)
    basis = np.frombuffer(raw[4 + 4 * n3:], "<f4").reshape(k, n3).T
    std = np.loadtxt(Path(folder) / "std_exp.txt", dtype=np.float64).reshape(-1)
    if std.shape[0] != k:
        raise InputError(f"{Path(folder) / 'std_exp.txt'}: {std.shape[0]} values, Exp_Pca.bin has {k} components")
    return basis, std


def convert_bfm09(folder: Path, out: Path, n_id: int = N_ID, n_exp: int = N_EXP, n_tex: int = N_TEX) -> Path:
    """Write ``out`` (``BFM_model_front.mat``: meanshape (1, 3F), meantex (1, 3F), idBase (3F, n_id), exBase
    (3F, n_exp), texBase (3F, n_tex) and the ``facemodel_info.mat`` arrays; F front vertices) from the BFM09 files
    in ``folder`` (see the module doc).

    Raises:
        InputError: a missing file (all missing ones named), a missing array, or sizes that do not agree.
    """
    from scipy.io import savemat

    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise InputError(f"{folder}: missing {', '.join(missing)} (BFM 2009 + Deep3DFaceRecon's files; see "
                         "thead.face.bfm)")
    bfm = _mat(folder / "01_MorphableModel.mat", ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV"))
    shape_pc = np.asarray(bfm["shapePC"], np.float64)
    v3 = shape_pc.shape[0]
    if v3 % 3 or np.asarray(bfm["shapeMU"]).size != v3 or shape_pc.shape[1] < n_id:
        raise InputError(f"{folder / '01_MorphableModel.mat'}: shapeMU / shapePC sizes disagree or fewer than "
                         f"{n_id} identity components")
    exp_pc, exp_std = read_expression_basis(folder)
    if exp_pc.shape[1] < n_exp:
        raise InputError(f"{folder / 'Exp_Pca.bin'}: {exp_pc.shape[1]} expression components, need {n_exp}")
    trim = np.asarray(_mat(folder / "BFM_exp_idx.mat", ("trimIndex",))["trimIndex"], np.int64).reshape(-1) - 1
    front = np.asarray(_mat(folder / "BFM_front_idx.mat", ("idx",))["idx"], np.int64).reshape(-1) - 1
    info = _mat(folder / "facemodel_info.mat", INFO_KEYS)
    if trim.shape[0] * 3 != exp_pc.shape[0] or trim.min() < 0 or trim.max() >= v3 // 3:
        raise InputError(f"{folder / 'BFM_exp_idx.mat'}: trimIndex does not map the expression basis's "
                         f"{exp_pc.shape[0] // 3} vertices into the BFM's {v3 // 3}")
    if front.min() < 0 or front.max() >= trim.shape[0]:
        raise InputError(f"{folder / 'BFM_front_idx.mat'}: idx outside the expression basis's vertices")
    shape_idx = trim[front]  # front vertices, in BFM numbering

    def per_vertex(basis: np.ndarray, idx: np.ndarray) -> np.ndarray:
        k = basis.shape[1]
        return basis.reshape(-1, 3, k)[idx].reshape(-1, k)

    ev = np.asarray(bfm["shapeEV"], np.float64).reshape(-1)
    id_base = per_vertex(shape_pc[:, :n_id] * ev[:n_id] * SCALE, shape_idx)
    ex_base = per_vertex(exp_pc[:, :n_exp].astype(np.float64) * exp_std[:n_exp] * SCALE, front)
    tex_ev = np.asarray(bfm["texEV"], np.float64).reshape(-1)
    tex_base = per_vertex(np.asarray(bfm["texPC"], np.float64)[:, :n_tex] * tex_ev[:n_tex], shape_idx)
    mean = np.asarray(bfm["shapeMU"], np.float64).reshape(-1, 3)[shape_idx] * SCALE
    tex = np.asarray(bfm["texMU"], np.float64).reshape(-1, 3)[shape_idx]
    for name, a in (("idBase", id_base), ("exBase", ex_base), ("meanshape", mean)):
        if not np.isfinite(a).all():
            raise InputError(f"{folder}: non-finite values in the converted {name}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.mat")
    try:
        savemat(str(tmp), dict(meanshape=mean.reshape(1, -1).astype(np.float32),
                               meantex=tex.reshape(1, -1).astype(np.float32),
                               idBase=id_base.astype(np.float32), exBase=ex_base.astype(np.float32),
                               texBase=tex_base.astype(np.float32), **{k: info[k] for k in INFO_KEYS}))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
