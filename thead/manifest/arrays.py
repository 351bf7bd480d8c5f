"""Loading the ``.npy`` / ``.npz`` arrays manifests point at, refusing what must not enter a computation.

Arrays are data (``allow_pickle=False``: an object array is refused, never unpickled). NaN and infinities are refused
where they would flow into training or synthesis; the one documented use of NaN (landmarks of frames without a face,
``thead.landmarks``) is read with ``allow_nan=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError


def check_finite(a: np.ndarray, what: str, allow_nan: bool = False) -> np.ndarray:
    """``a`` if every value is finite (NaN tolerated with ``allow_nan``).

    Raises:
        InputError: naming ``what``, the first bad index and value.
    """
    if a.dtype.kind not in "fc":
        return a
    bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{what}: non-finite value {a[idx]} at index {idx}; NaN and infinity are refused")
    return a


def load_array(path: Path, key: Optional[str] = None, allow_nan: bool = False) -> np.ndarray:
    """One array from ``path`` (``.npy``, or ``key`` of an ``.npz``), checked by ``check_finite``.

    Raises:
        InputError: missing/unreadable file, a missing key, an object array, or non-finite values.
    """
    path = Path(path)
    what = f"{path}" + (f" [{key}]" if key else "")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if key is None or key not in loaded.files:
                    raise InputError(f"{path}: no array {key!r} (holds {', '.join(loaded.files)})")
                a = np.asarray(loaded[key])
        else:
            a = np.asarray(loaded)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable numpy array ({str(e).splitlines()[0][:120]})") from None
    return check_finite(a, what, allow_nan)
