"""Third-party weights thead can use but may not ship: where each comes from, how it is checked, where it is kept.

``thead weights list | download NAME | verify [NAME] | path NAME``. Files are cached under ``$THEAD_HOME/weights``
(default ``~/.cache/thead/weights``). A download streams into a temporary name beside its target, is checked,
and only then renamed into place, so a cut connection or a wrong file never leaves something a stage would load.
Stages look here by themselves when their option (``--vgg-weights``, ``--inception-weights``,
``--syncnet-weights``, ``audio-features --model``) is not given, and say which file they use; an explicit option
always wins. ``THEAD_WEIGHTS_MIRROR=URL`` fetches every file from URL/<file name> instead (a local mirror; the
tests' HTTP server).

Checks, each taken from the library that publishes the file:

* ``vgg16`` -- torchvision's ``VGG16_Weights.IMAGENET1K_V1`` (``vgg16-397923af.pth``) and ``inception`` --
  pytorch-fid's ``FID_WEIGHTS_URL`` (``pt_inception-2015-12-05-6726825d.pth``): the 8 hex digits in the file name
  are the start of the file's SHA-256, which is how ``torch.hub.load_state_dict_from_url(check_hash=True)`` checks
  them; thead checks the same.
* ``wav2vec2-base-960h`` -- the Hugging Face repository ``facebook/wav2vec2-base-960h`` that transformers loads;
  each file is checked against the hash the Hub sends with it (``X-Linked-Etag``: the SHA-256 of a large file;
  ``ETag``: the git blob SHA-1 of a small one), as ``huggingface_hub`` does.
* ``syncnet`` -- syncnet_python's ``syncnet_v2.model`` from its ``download_model.sh``; its authors publish no
  checksum, so thead records the SHA-256 of the first download in ``checksums.json`` beside it and ``verify`` then
  checks against that (trust on first use; said when downloading).

BFM cannot be downloaded (it needs registration with the University of Basel): ``fit-3dmm --model`` reads
Deep3DFaceRecon's ``BFM_model_front.mat``, which that project's ``util/load_mats.py:transferBFM09`` makes from the
user's ``01_MorphableModel.mat`` (BFM09) and ``Exp_Pca.bin`` (Guo et al.'s expression basis); thead does not yet
do that conversion itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError, TheadError

HOME_ENV = "THEAD_HOME"
MIRROR_ENV = "THEAD_WEIGHTS_MIRROR"


@dataclass(frozen=True)
class Entry:
    """One downloadable set of weights.

    Attributes:
        name: what ``thead weights download`` takes.
        description: one line.
        urls: file name -> URL (a folder entry has several files).
        check: ``sha256-prefix`` (``prefix`` must start the file's SHA-256), ``hub-etag`` (the server's hash
            header), or ``first-use`` (the first download's SHA-256 recorded).
        option: the stage option it stands in for.
        folder: True when the weights are a folder (the entry's own subfolder of the cache), else one file.
        prefix: the SHA-256 prefix for ``sha256-prefix``.
        source: where the URL and the check come from.
    """

    name: str
    description: str
    urls: dict
    check: str
    option: str
    folder: bool = False
    prefix: str = ""
    source: str = ""


_HF = "https://huggingface.co/facebook/wav2vec2-base-960h/resolve/main/"
ENTRIES: dict[str, Entry] = {e.name: e for e in [
    Entry("vgg16", "VGG16 ImageNet state dict (perceptual loss of FLNet eq. 15 and FACIAL eq. 10)",
          {"vgg16-397923af.pth": "https://download.pytorch.org/models/vgg16-397923af.pth"}, "sha256-prefix",
          "--vgg-weights", prefix="397923af", source="torchvision.models.VGG16_Weights.IMAGENET1K_V1"),
    Entry("inception", "FID Inception-v3 (TF 2015-12-05 graph ported by pytorch-fid) for FID",
          {"pt_inception-2015-12-05-6726825d.pth":
           "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"},
          "sha256-prefix", "--inception-weights", prefix="6726825d", source="pytorch_fid.inception.FID_WEIGHTS_URL"),
    Entry("syncnet", "SyncNet v2 (Chung & Zisserman 2016) for LSE-D / LSE-C and the AV offset",
          {"syncnet_v2.model": "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"},
          "first-use", "--syncnet-weights", source="syncnet_python download_model.sh (no checksum published)"),
    Entry("wav2vec2-base-960h", "wav2vec2 CTC (LibriSpeech 960 h) for audio-features --kind deepspeech",
          {f: _HF + f for f in ("config.json", "preprocessor_config.json", "vocab.json", "tokenizer_config.json",
                                "special_tokens_map.json", "pytorch_model.bin")},
          "hub-etag", "audio-features --model", folder=True, source="huggingface.co/facebook/wav2vec2-base-960h"),
]}


def home() -> Path:
    """The cache folder: ``$THEAD_HOME/weights`` (default ``~/.cache/thead/weights``)."""
    base = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "thead")
    return Path(base) / "weights"


def entry(name: str) -> Entry:
    """Raises InputError for an unknown name (one line listing the known ones)."""
    if name not in ENTRIES:
        raise InputError(f"unknown weights {name!r} (known: {', '.join(ENTRIES)})")
    return ENTRIES[name]


def target(e: Entry) -> Path:
    """Where an entry lives in the cache: its file, or its folder."""
    return home() / e.name if e.folder else home() / next(iter(e.urls))


def _files(e: Entry) -> dict[str, Path]:
    base = home() / e.name if e.folder else home()
    return {f: base / f for f in e.urls}


def _url(e: Entry, fname: str) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    return mirror.rstrip("/") + "/" + fname if mirror else e.urls[fname]


def _ledger_path() -> Path:
    return home() / "checksums.json"


def _ledger() -> dict:
    p = _ledger_path()
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        raise TheadError(f"{p}: unreadable checksum record (remove it to start over)") from None


def _record(fname: str, sha256: str) -> None:
    from thead.files import atomic_write_text

    led = _ledger()
    led[fname] = sha256
    atomic_write_text(_ledger_path(), json.dumps(led, indent=1, sort_keys=True) + "\n")


def _hashes(path: Path) -> tuple[str, str]:
    """(SHA-256, git blob SHA-1) of a file."""
    h256 = hashlib.sha256()
    size = path.stat().st_size
    h1 = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h256.update(chunk)
            h1.update(chunk)
    return h256.hexdigest(), h1.hexdigest()


def _key(e: Entry, fname: str) -> str:
    return f"{e.name}/{fname}"


def _check(e: Entry, fname: str, hashes: tuple[str, str], hub_hash: Optional[str]) -> Optional[str]:
    """None when a file with ``hashes`` (``_hashes``: SHA-256, git blob SHA-1) passes the entry's check, else why
    not."""
    sha256, sha1 = hashes
    rec = _ledger().get(_key(e, fname))
    if e.check == "sha256-prefix":
        return None if sha256.startswith(e.prefix) else f"SHA-256 {sha256[:16]}... does not start with {e.prefix}"
    if e.check == "hub-etag":
        if not hub_hash:
            return None if rec == sha256 else "no hash from the server to check"
        want = hub_hash.strip('"').removeprefix("W/").strip('"').lower()
        got = sha256 if len(want) == 64 else sha1
        return None if got == want else f"hash {got[:16]}... is not the server's {want[:16]}..."
    return None if rec is None or rec == sha256 else f"SHA-256 {sha256[:16]}... differs from the recorded {rec[:16]}..."


def download(name: str, progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Fetch an entry into the cache (files already there and passing the check are kept). Returns its path.

    Raises:
        InputError: unknown name.
        TheadError: the server cannot be reached or answers an error, or a file fails its check (nothing is
            left at the target; the temporary file is removed).
    """
    import urllib.error
    import urllib.request

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from thead.files import tmp_path

    e = entry(name)
    for fname, dst in _files(e).items():
        if dst.exists() and _check(e, fname, _hashes(dst), None) is None and (e.check != "hub-etag"
                                                                     or _key(e, fname) in _ledger()):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        url = _url(e, fname)
        tmp = tmp_path(dst)
        try:
            try:
                resp = urllib.request.urlopen(url, timeout=60)
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise TheadError(f"weights {name}: cannot fetch {url} ({reason})") from None
            with resp, open(tmp, "wb") as out, Progress(TextColumn(f"{name}: {fname}"), BarColumn(),
                                                        DownloadColumn(), TransferSpeedColumn(),
                                                        disable=not progress) as prog:
                total = resp.headers.get("Content-Length")
                task = prog.add_task("", total=int(total) if total else None)
                hub_hash = resp.headers.get("X-Linked-Etag") or resp.headers.get("ETag")
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    prog.advance(task, len(chunk))
            hashes = _hashes(tmp)
            why = _check(e, fname, hashes, hub_hash)
            if why is not None:
                raise TheadError(f"weights {name}: {fname} from {url} failed its check ({why}); nothing was kept")
            if e.check in ("first-use", "hub-etag"):
                sha256 = hashes[0]
                if e.check == "first-use" and _key(e, fname) not in _ledger():
                    say(f"note: {fname}: its publisher gives no checksum; recorded SHA-256 {sha256} on this first "
                        f"download (verify checks against it)")
                _record(_key(e, fname), sha256)
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                tmp.unlink()
    return target(e)


def verify(name: str) -> list[str]:
    """Problems of a cached entry (empty: present and passing its check; hub files against the hash recorded when
    they were downloaded). Raises InputError for an unknown name."""
    e = entry(name)
    problems = []
    for fname, p in _files(e).items():
        if not p.exists():
            problems.append(f"{fname}: not downloaded")
            continue
        why = _check(e, fname, _hashes(p), None)
        if why is None and e.check == "hub-etag" and _key(e, fname) not in _ledger():
            why = "no recorded hash (download it again)"
        if why is not None:
            problems.append(f"{fname}: {why}")
    return problems


def cached(name: str) -> Optional[Path]:
    """The entry's cached path when every file of it is there, else None (no check: ``verify`` does that)."""
    e = entry(name)
    return target(e) if all(p.exists() for p in _files(e).values()) else None


def find(name: str, explicit: Optional[Path], say: Optional[Callable[[str], None]] = None) -> Optional[Path]:
    """The weights a stage uses: ``explicit`` (its option) when given, else the cached entry (said with its path,
    through ``say``, default a line on stderr), else None."""
    if explicit is not None:
        return Path(explicit)
    p = cached(name)
    if p is not None:
        import sys

        say = say or (lambda m: print(m, file=sys.stderr))
        say(f"note: using the cached {name} weights {p} ({entry(name).option} not given)")
    return p
