"""Locate the dlib model files shipped by the ``face_recognition_models`` package.

The package is found with ``importlib.util.find_spec`` rather than imported: its ``__init__`` needs
``pkg_resources``, which recent setuptools no longer ships.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from thead.errors import TheadError

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
MMOD_DETECTOR = "mmod_human_face_detector.dat"
FACE_RECOGNITION_RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def dlib_model(name: str) -> Path:
    """Path of one of dlib's model files in ``face_recognition_models``.

    Raises:
        TheadError: the package or the file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise TheadError("the face_recognition_models package is not installed (pip install face_recognition_models)")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise TheadError(f"{path}: dlib model file missing from face_recognition_models")
    return path
