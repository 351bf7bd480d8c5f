"""``real_path`` (the cached resolution a 10,000-item manifest is read with) names the same file as
``os.path.realpath`` through symlinked folders, symlinked files, ``..`` after a symlink, ``.`` and missing parts,
and forgets a folder that became a symlink once ``forget_resolved`` is called."""

import os

import pytest

from thead.manifest.paths import forget_resolved, real_path


@pytest.fixture()
def tree(tmp_path):
    d = tmp_path.resolve()
    (d / "a" / "b").mkdir(parents=True)
    (d / "real").mkdir()
    (d / "real" / "f.txt").write_text("x")
    os.symlink(d / "real", d / "a" / "link")
    os.symlink(d / "real" / "f.txt", d / "a" / "flink")
    return d


@pytest.mark.parametrize("rel", ["a/b/../link/f.txt", "a/link/../b", "a/./b//", "a/flink", "a/link/f.txt",
                                 "a/b/missing/../x", "a/link/..", "a/link/missing.txt", ".", "a/b/../../real"])
def test_real_path_is_realpath(tree, rel):
    forget_resolved()
    p = os.path.join(str(tree), rel)
    assert real_path(p) == os.path.realpath(p)
    assert real_path(p) == real_path(p)  # cached folders give the same answer


def test_relative_paths_and_a_folder_replaced_by_a_symlink(tree, monkeypatch):
    monkeypatch.chdir(tree)
    assert real_path("a/link/f.txt") == str(tree / "real" / "f.txt")
    assert real_path("a/b/f.txt") == str(tree / "a" / "b" / "f.txt")
    os.rmdir(tree / "a" / "b")
    os.symlink(tree / "real", tree / "a" / "b")
    forget_resolved()
    assert real_path("a/b/f.txt") == str(tree / "real" / "f.txt")
