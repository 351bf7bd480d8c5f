"""Reading, writing, validating, upgrading and merging manifests.

Writes are atomic (temporary name in the same folder, fsync, rename). A stage records each finished item in a
journal (``<manifest>.journal.jsonl``, one JSON line per item, appended and flushed) and writes the manifest itself
once at the end, so the final index only appears after every item was tried (Kaldi's rule), while a killed run
resumes from the journal.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Optional

from pydantic import ValidationError

from thead import __version__
from thead.errors import ManifestError, TheadError
from thead.manifest.models import KINDS, SCHEMA_VERSION, Item, Manifest, Producer, manifest_model
from thead.manifest.paths import check_id, check_output_rel, check_source, forget_resolved, is_inside, real_path
from thead.files import (atomic_folder, atomic_save_npy, atomic_save_npz,  # noqa: F401 (re-exported)
                         atomic_write_text, remove_stale_tmp, tmp_path)

CURRENT_MAJOR = int(SCHEMA_VERSION.split(".")[0])


def relpath(target: Path, start_dir: Path) -> str:
    """POSIX path of ``target`` relative to ``start_dir`` (what manifests store)."""
    return PurePosixPath(Path(os.path.relpath(Path(target).resolve(), Path(start_dir).resolve()))).as_posix()


# ---- loading -------------------------------------------------------------------------------------------------------
def _parse_version(v: str, path: Path) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in str(v).split(".")[:2])
    except ValueError:
        raise ManifestError(f"{path}: schema_version {v!r} is not of the form MAJOR.MINOR") from None
    return major, minor


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str):
    # json.loads calls this for the non-standard tokens NaN, Infinity and -Infinity, which Python would accept
    raise _NonFinite(name)


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except _NonFinite as e:
        raise ManifestError(f"{path}: non-finite number {e} (NaN / Infinity are not valid manifest values)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: not valid JSON ({e})") from None
    except OSError as e:
        raise ManifestError(f"{path}: cannot read ({e.strerror})") from None
    if not isinstance(data, dict) or "kind" not in data or "schema_version" not in data:
        raise ManifestError(f"{path}: not a thead manifest (no 'kind' / 'schema_version')")
    return data


class LoadedManifest:
    """A manifest plus the folder its relative paths are resolved against."""

    def __init__(self, manifest: Manifest, path: Path):
        self.manifest = manifest
        self.path = Path(path).resolve()
        self.dir = self.path.parent

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def items(self) -> list[Item]:
        return self.manifest.items

    def resolve(self, rel: Optional[str]) -> Optional[Path]:
        """Absolute path of a manifest-relative path (None stays None)."""
        if rel is None:
            return None
        return Path(real_path(self.dir / rel))

    def source(self, item: Item) -> Optional[Path]:
        """The item's source as an absolute path, if it may be followed (``thead.manifest.paths``).

        Raises:
            OutsideError: outside the manifest's folder and the working directory, and the user did not opt in.
        """
        p = self.resolve(item.source)
        return None if p is None else check_source(p, self.dir, self.path, item.id)

    def output(self, item: Item, key: str) -> Path:
        rel = item.outputs.get(key)
        if rel is None:
            raise ManifestError(f"{self.path}: item {item.id!r} has no output {key!r}")
        return self.resolve(rel)  # type: ignore[return-value]

    def done(self) -> list[Item]:
        return [it for it in self.manifest.items if it.status == "done"]


def load_manifest(path: Path, kind: Optional[str | tuple[str, ...]] = None) -> LoadedManifest:
    """Read and validate a manifest.

    Args:
        path: the manifest file.
        kind: the kind (or kinds) the caller accepts; None accepts any known kind.

    Raises:
        ManifestError: missing/invalid file, unknown or unexpected kind, a newer major schema version (upgrade
            thead) or an older one (run ``thead manifest upgrade``). Reading never rewrites the file.
    """
    path = Path(path)
    forget_resolved()
    data = read_json(path)
    major, _ = _parse_version(data["schema_version"], path)
    if major > CURRENT_MAJOR:
        raise ManifestError(
            f"{path}: schema_version {data['schema_version']} is newer than this thead reads "
            f"({SCHEMA_VERSION}); upgrade thead"
        )
    if major < CURRENT_MAJOR:
        raise ManifestError(
            f"{path}: schema_version {data['schema_version']} is older than {SCHEMA_VERSION}; "
            f"run 'thead manifest upgrade {path}'"
        )
    wanted = (kind,) if isinstance(kind, str) else kind
    if wanted is not None and data["kind"] not in wanted:
        raise ManifestError(f"{path}: manifest kind is {data['kind']!r}, expected {' or '.join(wanted)}")
    if data["kind"] not in KINDS:
        raise ManifestError(f"{path}: unknown manifest kind {data['kind']!r}")
    for it in data.get("items") or []:
        if isinstance(it, dict) and "id" in it:
            try:
                check_id(it["id"])
            except ManifestError as e:
                raise ManifestError(f"{path}: {e}") from None
    try:
        manifest_model(data["kind"]).model_validate(data)
        m = Manifest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ManifestError(f"{path}: invalid manifest at {loc}: {first['msg']}") from None
    folder = path.resolve().parent
    for it in m.items:
        for key, rel in it.outputs.items():
            if isinstance(rel, str):
                check_output_rel(rel, folder, path, f"item {it.id!r}: output {key}")
    return LoadedManifest(m, path)


def validate_manifest(path: Path, check_files: bool = True) -> list[str]:
    """Validate a manifest's schema and (optionally) that every ``done`` item's outputs exist.

    Returns:
        A list of problems (empty when valid). Schema errors raise ManifestError instead.
    """
    lm = load_manifest(path)
    problems = []
    spec = KINDS[lm.kind]
    seen = set()
    for it in lm.items:
        if it.id in seen:
            problems.append(f"duplicate item id {it.id!r}")
        seen.add(it.id)
        if it.status == "failed" and not it.error:
            problems.append(f"item {it.id!r} failed without an error message")
        if it.status != "done" or not check_files:
            continue
        for key in spec.required_outputs:
            if key not in it.outputs:
                problems.append(f"item {it.id!r} is done but has no {key!r} output")
        for key, rel in it.outputs.items():
            if isinstance(rel, str) and not lm.resolve(rel).exists():
                problems.append(f"item {it.id!r}: output {key} missing: {rel}")
    return problems


# ---- upgrade / merge -------------------------------------------------------------------------------------------
# Migrations from an older major version: {old_major: function(dict) -> dict}. Version 1 is the first schema, so
# there is none yet; the mechanism is the contract readers rely on (reading never rewrites, upgrade does).
MIGRATIONS: dict[int, Any] = {}


def upgrade_manifest(path: Path, out: Optional[Path] = None) -> Path:
    """Rewrite a manifest at the current schema version (in place unless ``out`` is given).

    Same major, older minor: re-validated with the current model (new optional fields get defaults) and stamped
    with the current version. Older major: migrated through ``MIGRATIONS``.

    Raises:
        ManifestError: newer major version, or no migration path.
    """
    path = Path(path)
    forget_resolved()
    data = read_json(path)
    major, _ = _parse_version(data["schema_version"], path)
    if major > CURRENT_MAJOR:
        raise ManifestError(f"{path}: schema_version {data['schema_version']} is newer than this thead; upgrade thead")
    while major < CURRENT_MAJOR:
        if major not in MIGRATIONS:
            raise ManifestError(f"{path}: no migration from schema_version {major}.x to {SCHEMA_VERSION}")
        data = MIGRATIONS[major](data)
        major += 1
    data["schema_version"] = SCHEMA_VERSION
    if not data.get("conventions") and data.get("kind") in KINDS:
        data["conventions"] = KINDS[data["kind"]].conventions  # a field older minors lacked
    m = Manifest.model_validate(data)
    dest = Path(out) if out else path
    if dest.resolve().parent != path.resolve().parent:
        m = _rebase(m, path.resolve().parent, dest.resolve().parent)
    write_manifest(m, dest)
    return dest


def _rebase(m: Manifest, old_dir: Path, new_dir: Path) -> Manifest:
    def rb(rel: Optional[str]) -> Optional[str]:
        return None if rel is None else relpath(old_dir / rel, new_dir)

    m = m.model_copy(deep=True)
    m.upstream = rb(m.upstream)
    for it in m.items:
        it.source = rb(it.source)
        it.outputs = {k: rb(v) if isinstance(v, str) else v for k, v in it.outputs.items()}
    return m


def parse_where(specs: Iterable[str]) -> dict[str, str]:
    """``["split=train", "emotion=happy"]`` -> ``{"split": "train", "emotion": "happy"}``.

    Raises:
        ManifestError: a spec without ``=`` or with an empty key.
    """
    out = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key.strip():
            raise ManifestError(f"--where takes KEY=VALUE (an item meta field), got {spec!r}")
        out[key.strip()] = value.strip()
    return out


def _matches(item: Item, where: dict[str, str]) -> bool:
    meta = item.meta or {}
    return all(k in meta and str(meta[k]) == v for k, v in where.items())


def merge_manifests(paths: Iterable[Path], out: Path, where: Optional[dict[str, str]] = None) -> Manifest:
    """Merge shards (same kind) into one manifest at ``out``; paths are rebased onto ``out``'s folder.

    An id present in several inputs keeps its ``done`` record over a failed/skipped one. With ``where``
    (``{meta key: value}``, compared as strings) only items whose ``meta`` has every such value are kept: e.g.
    ``{"split": "train"}`` takes the training split of the corpora ``thead prepare`` wrote.

    Raises:
        ManifestError: no inputs, kinds differ, or nothing matches ``where``.
    """
    loaded = [load_manifest(p) for p in paths]
    if not loaded:
        raise ManifestError("merge needs at least one manifest")
    kinds = {lm.kind for lm in loaded}
    if len(kinds) != 1:
        raise ManifestError(f"cannot merge manifests of different kinds: {sorted(kinds)}")
    out = Path(out)
    by_id: dict[str, Item] = {}
    for lm in loaded:
        rebased = _rebase(lm.manifest, lm.dir, out.resolve().parent)
        for it in rebased.items:
            if where and not _matches(it, where):
                continue
            if it.id not in by_id or (it.status == "done" and by_id[it.id].status != "done"):
                by_id[it.id] = it
    if where and not by_id:
        raise ManifestError(f"no item of {', '.join(str(lm.path) for lm in loaded)} has meta "
                            f"{', '.join(f'{k}={v}' for k, v in where.items())}")
    first = _rebase(loaded[0].manifest, loaded[0].dir, out.resolve().parent)
    producer = first.producer.model_copy(deep=True)
    producer.config = dict(producer.config, merged_from=[relpath(lm.path, out.resolve().parent) for lm in loaded])
    if where:
        producer.config["where"] = dict(where)
    merged = Manifest(
        kind=first.kind,
        producer=producer,
        conventions=first.conventions,
        upstream=first.upstream,
        items=sorted(by_id.values(), key=lambda it: it.id),
    )
    write_manifest(merged, out)
    return merged


def write_manifest(m: Manifest, path: Path) -> None:
    atomic_write_text(Path(path), m.model_dump_json(indent=1, exclude_none=False) + "\n")


# ---- sharding ------------------------------------------------------------------------------------------------------
def parse_shard(spec: Optional[str]) -> Optional[tuple[int, int]]:
    """Parse ``K/N`` (0-based K, as torchrun ranks and SLURM arrays starting at 0).

    Raises:
        ValueError: malformed, or K not in [0, N).
    """
    if spec is None:
        return None
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N with integers, got {spec!r}") from None
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"--shard {spec}: need 0 <= K < N")
    return k, n


def in_shard(item_id: str, shard: Optional[tuple[int, int]]) -> bool:
    """Deterministic split by a hash of the id, stable when items are added to or removed from a manifest."""
    if shard is None:
        return True
    k, n = shard
    return zlib.crc32(item_id.encode("utf-8")) % n == k


# ---- writer with journal (resume) ----------------------------------------------------------------------------------
def ensure_folder(folder: Path) -> Path:
    """``folder`` created if needed, as an absolute path.

    Raises:
        TheadError: it exists and is not a folder, or cannot be created.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TheadError(f"{folder}: exists and is not a folder (choose another -o)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TheadError(f"{folder}: cannot create the output folder ({e.strerror})") from None
    return folder.resolve()


class FolderLock:
    """An advisory lock (``fcntl.flock``) on ``<folder>/.<name>.lock`` holding the writer's pid: one writer per
    manifest file. The lock file is removed on release (while still locked, and a writer that locked a removed file
    tries again, the usual pattern for lock files that do not stay); the kernel drops the lock if the process dies.

    Raises:
        TheadError: another live process holds it (its pid is named).
    """

    def __init__(self, folder: Path, name: str):
        import fcntl

        self.path = Path(folder) / f".{name}.lock"
        while True:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(self.fd)
                self.fd = -1
                raise TheadError(f"{Path(folder) / name}: another thead run (pid {holder}) is writing this output; "
                                 f"wait for it to finish or choose another -o") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(self.fd)  # the holder removed this file as we locked it: lock the new one
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd >= 0:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = -1


class ManifestWriter:
    """Collects items of one stage run into ``out_dir/<name>``, journaling each as it finishes.

    On construction it takes the folder's lock for ``name`` (one writer at a time) and reads a previous manifest /
    journal in the same place: ``is_done(id, fingerprint)`` then tells which items can be reused (status ``done``,
    the same fingerprint — same source file, upstream files and config — and every output file present).
    Finished items of earlier runs that this run does not redo are kept (``keep_others``), so a second run with other
    inputs adds to the folder instead of dropping what is there.
    """

    def __init__(self, out_dir: Path, kind: str, producer: Producer, name: str = "manifest.json",
                 upstream: Optional[Path] = None):
        self.dir = ensure_folder(out_dir)
        self.path = self.dir / name
        self.journal = self.path.with_name(self.path.name + ".journal.jsonl")
        self.kind = kind
        self.producer = producer
        self.upstream = relpath(upstream, self.dir) if upstream else None
        self.items: dict[str, Item] = {}
        self._previous: dict[str, Item] = {}
        self.lock = FolderLock(self.dir, name)
        try:
            remove_stale_tmp(self.dir)
            if self.path.exists():
                try:
                    lm = load_manifest(self.path, kind)
                except ManifestError as e:
                    raise ManifestError(f"{e} (output folder holds another manifest; choose another -o)") from None
                self._previous.update({it.id: it for it in lm.items})
            if self.journal.exists():
                for line in self.journal.read_text(encoding="utf-8").splitlines():
                    try:
                        it = Item.model_validate_json(line)
                    except (ValidationError, ValueError):
                        continue  # a line cut short by a kill, or one no longer valid
                    self._previous[it.id] = it
        except BaseException:
            self.lock.release()
            raise

    def _inside(self, rel: str) -> bool:
        return not Path(rel).is_absolute() and is_inside(self.dir / rel, self.dir)

    def previous(self, item_id: str) -> Optional[Item]:
        return self._previous.get(item_id)

    def is_done(self, item_id: str, fingerprint: Optional[str] = None) -> bool:
        """Whether ``item_id`` was finished before with this ``fingerprint`` (None: not compared) and its files."""
        it = self._previous.get(item_id)
        if it is None or it.status != "done":
            return False
        if fingerprint is not None and it.fingerprint != fingerprint:
            return False
        return all(self._inside(rel) and (self.dir / rel).exists()
                   for rel in it.outputs.values() if isinstance(rel, str))

    def keep_previous(self, item_id: str) -> Item:
        it = self._previous[item_id]
        self.items[item_id] = it
        return it

    def keep_others(self) -> list[str]:
        """Keep the finished items of earlier runs that this run neither redid nor replaced: same id, or the same
        source as an item of this run (an id that changed because a same-named file was added). Returns their ids."""
        sources = {it.source for it in self.items.values() if it.source is not None}
        kept = []
        for iid, it in sorted(self._previous.items()):
            if iid in self.items or it.status != "done" or (it.source is not None and it.source in sources):
                continue
            if self.is_done(iid):
                self.items[iid] = it
                kept.append(iid)
        return kept

    def add(self, item: Item) -> None:
        self.items[item.id] = item
        with open(self.journal, "a", encoding="utf-8") as f:
            f.write(item.model_dump_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def rel(self, path: Path) -> str:
        return relpath(path, self.dir)

    def finish(self) -> Manifest:
        try:
            m = Manifest(
                kind=self.kind,
                producer=self.producer,
                conventions=KINDS[self.kind].conventions,
                upstream=self.upstream,
                items=sorted(self.items.values(), key=lambda it: it.id),
            )
            write_manifest(m, self.path)
            if self.journal.exists():
                self.journal.unlink()
        finally:
            self.lock.release()
        return m

    def close(self) -> None:
        """Release the lock without writing the manifest (the journal keeps what finished)."""
        self.lock.release()


def make_producer(stage: str, config: dict[str, Any], argv: Optional[list[str]] = None) -> Producer:
    import sys

    return Producer(
        stage=stage,
        thead_version=__version__,
        argv=list(argv if argv is not None else sys.argv),
        config=json.loads(json.dumps(config, default=str)),
    )
