"""Linear 3D morphable face models behind one interface: ICT Face Model Light (bundled) and the Basel Face Model
in Deep3DFaceRecon's ``BFM_model_front.mat`` layout (the user's own file; BFM is not redistributable).

A shape is ``mean_shape + id_w @ id_basis + exp_w @ exp_basis`` (bases flattened over vertices). Coordinates:
x to the subject's left, y up, z towards the camera (a frontal view looks down -z).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError

BUNDLED_ICT = Path(__file__).resolve().parent.parent / "data" / "ict_face_light.npz"


@dataclass
class FaceModel:
    """A linear 3DMM.

    Attributes:
        name: "ict-light" or "bfm".
        mean_shape: (V, 3) float32, model units (ICT: cm).
        id_basis: (K_id, V, 3) float32; identity weights ~ N(0, 1).
        exp_basis: (K_exp, V, 3) float32.
        exp_names: K_exp names (ICT: ARKit-style blendshape names; BFM: exp00..).
        triangles: (F, 3) int32, 0-based.
        landmarks68: (68,) int64 vertex of each ibug-68 landmark (dlib order).
        exp_bounds: (lo, hi) for expression weights (ICT blendshapes: (0, 1)) or None (BFM: unbounded).
        units: length unit of the coordinates.
    """

    name: str
    mean_shape: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    exp_names: list[str]
    triangles: np.ndarray
    landmarks68: np.ndarray
    exp_bounds: Optional[tuple[float, float]]
    units: str

    @property
    def n_vertices(self) -> int:
        return self.mean_shape.shape[0]

    @property
    def k_id(self) -> int:
        return self.id_basis.shape[0]

    @property
    def k_exp(self) -> int:
        return self.exp_basis.shape[0]

    def shape(self, id_w: np.ndarray, exp_w: np.ndarray) -> np.ndarray:
        """Vertices for identity (K_id,) and expression (..., K_exp) weights -> (..., V, 3) float32."""
        base = self.mean_shape + np.tensordot(id_w, self.id_basis, axes=(0, 0))
        return (base + np.tensordot(exp_w, self.exp_basis, axes=(-1, 0))).astype(np.float32)

    def vertex_normals(self, verts: np.ndarray) -> np.ndarray:
        """(V, 3) unit normals of (V, 3) vertices (area-weighted face normals summed)."""
        tri = self.triangles
        fn = np.cross(verts[tri[:, 1]] - verts[tri[:, 0]], verts[tri[:, 2]] - verts[tri[:, 0]])
        vn = np.zeros_like(verts)
        for k in range(3):
            np.add.at(vn, tri[:, k], fn)
        return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=4)
def load_face_model(path: Optional[str] = None) -> FaceModel:
    """Load a face model: None -> the bundled ICT Face Model Light; ``*.npz`` -> ICT layout; ``*.mat`` -> BFM
    (Deep3DFaceRecon ``BFM_model_front.mat``: meanshape, idBase, exBase, tri, keypoints, 1-based indices).

    Raises:
        InputError: missing file, unknown suffix, or missing arrays.
    """
    p = Path(path) if path else BUNDLED_ICT
    if not p.is_file():
        raise InputError(f"{p}: face model file not found")
    if p.suffix == ".npz":
        return _load_ict(p)
    if p.suffix == ".mat":
        return _load_bfm(p)
    raise InputError(f"{p}: unknown face model format (expected ICT .npz or BFM .mat)")


def _load_ict(p: Path) -> FaceModel:
    d = np.load(p)
    need = {"mean_shape", "id_basis", "exp_basis", "exp_names", "triangles", "landmarks68"}
    if not need <= set(d.files):
        raise InputError(f"{p}: not an ICT face model archive (missing {sorted(need - set(d.files))})")
    return FaceModel(
        name="ict-light", mean_shape=d["mean_shape"].astype(np.float32), id_basis=d["id_basis"].astype(np.float32),
        exp_basis=d["exp_basis"].astype(np.float32), exp_names=[str(s) for s in d["exp_names"]],
        triangles=d["triangles"].astype(np.int32), landmarks68=d["landmarks68"].astype(np.int64),
        exp_bounds=(0.0, 1.0), units="cm",
    )


def _load_bfm(p: Path) -> FaceModel:
    from scipy.io import loadmat

    try:
        m = loadmat(str(p))
    except Exception as e:  # scipy raises several types for bad files
        raise InputError(f"{p}: unreadable .mat file ({e})") from None
    need = {"meanshape", "idBase", "exBase", "tri", "keypoints"}
    if not need <= set(m):
        raise InputError(f"{p}: not a BFM_model_front.mat (missing {sorted(need - set(m))})")
    mean = np.asarray(m["meanshape"], np.float64).reshape(-1, 3)
    v = mean.shape[0]
    # Deep3DFaceRecon centres the mean shape; bases are (3V, K), xyz interleaved per vertex.
    centre = mean.mean(0)
    idb = np.asarray(m["idBase"], np.float32).reshape(v, 3, -1).transpose(2, 0, 1)
    exb = np.asarray(m["exBase"], np.float32).reshape(v, 3, -1).transpose(2, 0, 1)
    return FaceModel(
        name="bfm", mean_shape=(mean - centre).astype(np.float32), id_basis=idb, exp_basis=exb,
        exp_names=[f"exp{i:02d}" for i in range(exb.shape[0])],
        triangles=(np.asarray(m["tri"], np.int64) - 1).astype(np.int32),
        landmarks68=np.asarray(m["keypoints"], np.int64).reshape(-1) - 1, exp_bounds=None, units="bfm",
    )
