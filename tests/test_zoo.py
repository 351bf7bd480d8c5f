"""The third-party weights manager against a local HTTP server: downloads land only after their check passes
(SHA-256 prefix as torch.hub, the Hub's hash header, first-use record), a bad file leaves nothing behind,
``verify`` finds a changed file, stages find the cache by themselves and an explicit option wins."""

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli
from thead import zoo
from thead.errors import InputError, TheadError


class _Handler(http.server.SimpleHTTPRequestHandler):
    etags: dict = {}

    def end_headers(self):
        name = self.path.rsplit("/", 1)[-1]
        if name in self.etags:
            self.send_header("X-Linked-Etag", f'"{self.etags[name]}"')
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(tmp_path, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    # a real (small) state dict, as the published files are
    torch.save({"features.0.weight": torch.randn(4, 3, 3, 3)}, root / "weights.pth")
    (root / "config.json").write_text('{"model_type": "wav2vec2"}')
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("THEAD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("THEAD_WEIGHTS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield root
    httpd.shutdown()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _entries(monkeypatch, **entries):
    monkeypatch.setattr(zoo, "ENTRIES", dict(zoo.ENTRIES, **entries))


@pytest.mark.slow
def test_download_checks_the_sha256_prefix_and_stages_find_the_cache(server, monkeypatch):
    good = zoo.Entry("vggtest", "test", {"weights.pth": "https://example.invalid/weights.pth"}, "sha256-prefix",
                     "--vgg-weights", prefix=_sha(server / "weights.pth")[:8])
    _entries(monkeypatch, vggtest=good)
    assert zoo.cached("vggtest") is None and zoo.find("vggtest", None, print) is None
    p = zoo.download("vggtest", progress=False)
    assert p == zoo.home() / "weights.pth" and p.read_bytes() == (server / "weights.pth").read_bytes()
    assert set(torch.load(p, weights_only=True)) == {"features.0.weight"}
    assert zoo.verify("vggtest") == []
    said = []
    assert zoo.find("vggtest", None, said.append) == p and "cached vggtest weights" in said[0]
    assert zoo.find("vggtest", Path("/my/own.pth"), said.append) == Path("/my/own.pth")  # an explicit option wins
    # a file that changed on disk fails verify
    p.write_bytes(p.read_bytes()[:-10])
    assert "does not start with" in zoo.verify("vggtest")[0]


@pytest.mark.slow
def test_a_file_failing_its_check_leaves_nothing(server, monkeypatch):
    bad = zoo.Entry("badtest", "test", {"weights.pth": "x"}, "sha256-prefix", "--x", prefix="00000000")
    _entries(monkeypatch, badtest=bad)
    with pytest.raises(TheadError, match="failed its check"):
        zoo.download("badtest", progress=False)
    assert not any(zoo.home().rglob("*.pth")) and not any(zoo.home().rglob("*.tmp*"))


@pytest.mark.slow
def test_hub_hash_header_and_first_use_record(server, monkeypatch):
    hub = zoo.Entry("hubtest", "test", {"config.json": "x", "weights.pth": "y"}, "hub-etag", "--model", folder=True)
    tofu = zoo.Entry("tofutest", "test", {"weights.pth": "z"}, "first-use", "--syncnet-weights")
    _entries(monkeypatch, hubtest=hub, tofutest=tofu)
    cfg = (server / "config.json").read_bytes()
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(cfg) + cfg).hexdigest()
    # as the Hub: a large (LFS) file's SHA-256, a small file's git blob SHA-1
    _Handler.etags = {"weights.pth": _sha(server / "weights.pth"), "config.json": git_sha1}
    p = zoo.download("hubtest", progress=False)
    assert p.is_dir() and sorted(f.name for f in p.iterdir()) == ["config.json", "weights.pth"]
    assert zoo.verify("hubtest") == []
    _Handler.etags = {"weights.pth": "f" * 64, "config.json": git_sha1}
    (p / "weights.pth").unlink()
    with pytest.raises(TheadError, match="is not the server's"):
        zoo.download("hubtest", progress=False)
    _Handler.etags = {}
    notes = []
    t = zoo.download("tofutest", progress=False, say=notes.append)
    assert "no checksum" in notes[0] and zoo.verify("tofutest") == []
    t.write_bytes(b"changed")
    assert "differs from the recorded" in zoo.verify("tofutest")[0]


def test_unknown_names_and_an_unreachable_server(tmp_path, monkeypatch):
    monkeypatch.setenv("THEAD_HOME", str(tmp_path))
    monkeypatch.setenv("THEAD_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(InputError, match="unknown weights"):
        zoo.download("vgg19")
    with pytest.raises(TheadError, match="cannot fetch"):
        zoo.download("vgg16", progress=False)
    assert not any(tmp_path.rglob("*.pth*"))


@pytest.mark.slow
def test_cli(server, tmp_path, monkeypatch):
    (server / "vgg16-397923af.pth").write_bytes((server / "weights.pth").read_bytes())
    r = run_cli("weights", "list")
    assert r.returncode == 0 and "vgg16" in r.stdout and "wav2vec2-base-960h" in r.stdout
    r = run_cli("weights", "download", "vgg16", "--no-progress")
    assert r.returncode == 1 and "failed its check" in r.stderr  # the mirror's file is not torchvision's VGG16
    r = run_cli("weights", "path", "vgg16")
    assert r.returncode == 1 and "not downloaded" in r.stderr
