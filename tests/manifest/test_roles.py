"""thead.frames roles: what an item's frames are, told by its meta or, in older manifests, by its operation."""

import pytest

from thead.errors import InputError
from thead.manifest import Item
from thead.manifest.roles import frames_role, require_role


def test_role_from_meta_or_from_an_older_manifests_operation():
    assert frames_role({"role": "render", "operation": "clahe"}) == "render"  # CLAHE keeps its input's role
    assert frames_role({"operation": "frontalize"}) == "frontal"
    assert frames_role({"operation": "crop"}) == "face_crop"
    assert frames_role({"operation": "render-face"}) == "render"
    assert frames_role({"operation": "clahe"}) is None and frames_role({}) is None


def test_require_role_refuses_a_known_other_role_and_lets_unknown_ones_pass():
    require_role("m.json", Item(id="x", status="done", meta={}), "render")  # unknown: the consumer's checks apply
    require_role("m.json", Item(id="x", status="done", meta={"role": "render"}), "render")
    with pytest.raises(InputError, match=r"m.json: item x holds face crop frames, not render frames; make them "
                                         r"with 'thead render-face'"):
        require_role("m.json", Item(id="x", status="done", meta={"operation": "crop"}), "render")
