"""Where a manifest may point, and where a stage may write.

A manifest is data a user may have been handed, so nothing in it is trusted to name a place to write or delete:

- **Item ids** become file names (``<out>/<id>.landmarks.npz``), so they must match ``ID_PATTERN``: letters, digits,
  ``.``, ``_`` and ``-``, starting with a letter or digit, at most 200 characters — no separators, no ``..``, no
  absolute paths. ``load_manifest`` (and so ``thead manifest validate``) refuses any other.
- **Outputs** are what the stage that wrote the manifest made in its own folder (or, for a merged manifest, in its
  shards' folders): when the manifest is read, an ``outputs`` path is refused unless it resolves inside the
  manifest's folder, the working directory or an allowed folder (below).
- **Sources** (the user's media) usually lie outside the manifest's folder (``work/landmarks/manifest.json`` points
  at ``../../videos/a.mp4``); a source is followed when it resolves inside the manifest's folder or the current
  working directory, and anywhere else only when the user opts in: ``--allow-outside`` on the command line, or the
  environment variable ``THEAD_ALLOW_OUTSIDE`` (``1`` for anywhere, or folders separated by ``:``).
- **Writes**: every file a stage writes goes through ``output_path(out_dir, name)``, which refuses a name that does
  not resolve inside ``out_dir`` (``..``, absolute paths, a symlink planted in the folder pointing elsewhere).
  Paths read from a manifest are never deleted.

The pattern and the opt-in follow what archive tools do with member names (GNU tar refuses ``..`` and leading ``/``
unless told otherwise).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

from thead.errors import ManifestError, TheadError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
_ID_RE = re.compile(ID_PATTERN)
ALLOW_ENV = "THEAD_ALLOW_OUTSIDE"


class OutsideError(TheadError):
    """A path leaves the folder it must stay in."""


def is_safe_id(item_id: object) -> bool:
    """Whether ``item_id`` can be used as a file-name stem (``ID_PATTERN``)."""
    return isinstance(item_id, str) and bool(_ID_RE.fullmatch(item_id))  # match() would take "0\n": "$" ends at "\n"


def check_id(item_id: object) -> str:
    """``item_id`` if it matches ``ID_PATTERN``.

    Raises:
        ManifestError: any other id (path separators, a leading dot or dash, empty, too long, not a string).
    """
    if not is_safe_id(item_id):
        raise ManifestError(f"item id {item_id!r} is not a safe name (letters, digits, '.', '_', '-', starting with "
                            f"a letter or digit, at most 200 characters)")
    return item_id  # type: ignore[return-value]


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to ``folder`` or something under it."""
    p = Path(path).resolve()
    f = Path(folder).resolve()
    return p == f or f in p.parents


def output_path(out_dir: Path, name: str | Path) -> Path:
    """``out_dir / name`` as an absolute path, refused unless it resolves inside ``out_dir``.

    Every writer of a stage builds its paths with this (``item_path`` for per-item files).

    Raises:
        OutsideError: ``name`` is absolute, climbs out with ``..``, or passes through a symlink leading elsewhere.
    """
    out_dir = Path(out_dir).resolve()
    name = Path(name)
    p = out_dir / name
    if name.is_absolute() or not is_inside(p, out_dir):
        raise OutsideError(f"refused to write {p}: outside the output folder {out_dir}")
    return p


def item_path(out_dir: Path, item_id: str, suffix: str) -> Path:
    """``out_dir/<item_id><suffix>`` (e.g. ``.landmarks.npz``), checked by ``check_id`` and ``output_path``."""
    try:
        check_id(item_id)
    except ManifestError as e:
        raise OutsideError(str(e)) from None
    return output_path(out_dir, f"{item_id}{suffix}")


_TRUSTED: list[Path] = []


def trust(folder: Path) -> None:
    """Let sources under ``folder`` be followed for the rest of this process: media the user named on the command
    line, so that a stage that first runs an earlier stage on them (``thead fit-3dmm videos/`` runs landmarks into a
    subfolder) can read the manifest it just wrote."""
    f = Path(folder).resolve()
    if f not in _TRUSTED:
        _TRUSTED.append(f)


def allowed_roots() -> Optional[list[Path]]:
    """Folders sources may lie in besides the manifest's folder and the working directory, from
    ``THEAD_ALLOW_OUTSIDE``; None means anywhere (``1``, ``true``, ``yes``, ``any``)."""
    v = os.environ.get(ALLOW_ENV, "").strip()
    if v.lower() in ("1", "true", "yes", "any"):
        return None
    return list(_env_roots(v)) + list(_TRUSTED)


@lru_cache(maxsize=16)
def _env_roots(value: str) -> tuple[Path, ...]:
    return tuple(Path(x).resolve() for x in value.split(os.pathsep) if x.strip())


@lru_cache(maxsize=65536)
def _real_dir(d: str) -> str:
    return os.path.realpath(d)


def forget_resolved() -> None:
    """Drop ``real_path``'s folder cache (at the start of every manifest read / input discovery, so a folder or
    symlink changed since an earlier read is resolved afresh)."""
    _real_dir.cache_clear()


def real_path(path: Path | str) -> str:
    """``os.path.realpath(path)`` (symlinks followed, absolute), with each folder's own resolution cached: a corpus
    manifest's 100,000 items lie in a few folders, so resolving one of them costs one ``lstat`` (is the file itself a
    link?) instead of one per path component. ``.`` and empty components are dropped (they never change what a
    path names); everything up to the last ``..`` is resolved as one folder (cached), as ``..`` must be applied
    after the symlinks before it. ``forget_resolved`` clears the cache."""
    s = os.fspath(path)
    if not os.path.isabs(s):
        s = os.path.join(os.getcwd(), s)
    parts = [p for p in s.split(os.sep)[1:] if p not in ("", ".")]
    if ".." in parts:
        i = len(parts) - 1 - parts[::-1].index("..")
        base, parts = _real_dir(os.sep + os.sep.join(parts[:i + 1])), parts[i + 1:]
    else:
        base = os.sep
    if not parts:
        return base
    s = os.path.join(base, *parts)
    if os.path.islink(s):
        return os.path.realpath(s)
    return os.path.join(_real_dir(os.path.dirname(s)), parts[-1])


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _followable(path: Path, manifest_dir: Path) -> bool:
    """Whether a path read from a manifest may be followed: inside the manifest's folder, the working directory or an
    allowed folder, or anywhere when the user opted in."""
    roots = allowed_roots()
    if roots is None:
        return True
    rp = real_path(path)
    return any(_inside(rp, r) for r in [_real_dir(os.fspath(Path(manifest_dir).absolute())), _real_dir(os.getcwd()),
                                        *map(str, roots)])


def check_source(path: Path, manifest_dir: Path, manifest_path: Path, item_id: str) -> Path:
    """A source path read from a manifest, if the opt-in rules above let it be followed.

    Raises:
        OutsideError: outside the manifest's folder, the working directory and every allowed folder.
    """
    if _followable(path, manifest_dir):
        return path
    raise OutsideError(f"{manifest_path}: item {item_id!r}: source {path} is outside the manifest's folder and the "
                       f"working directory; rerun with --allow-outside (or {ALLOW_ENV}=FOLDER) if you trust this "
                       f"manifest")


def check_output_rel(rel: str, manifest_dir: Path, manifest_path: Path, where: str) -> None:
    """An ``outputs`` path of a manifest is read only when it resolves inside the manifest's folder, the working
    directory or an allowed folder (as sources; a merged manifest may point at its shards' folders beside it).

    Raises:
        ManifestError: anywhere else, unless the user opted in.
    """
    if _followable(Path(manifest_dir) / rel, manifest_dir):
        return
    raise ManifestError(f"{manifest_path}: {where} {rel!r} points outside the manifest's folder and the working "
                        f"directory (refused; --allow-outside to read it anyway)")
