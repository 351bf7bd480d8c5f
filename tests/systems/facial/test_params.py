import numpy as np
import pytest

from thead.errors import InputError
from thead.systems.facial.data import load_clips, reference_params
from thead.systems.facial.params import EXP_START, EYE, POSE, ReferenceParams, denormalize, from_fit


@pytest.mark.slow
def test_reference_parameters_from_a_real_fit(facial_data):
    refs = reference_params(facial_data["au"])
    ref, src = refs["a"]
    assert src.name == "a.mp4"
    t, p = ref.params.shape
    assert p == EXP_START + 53 and ref.names[:7] == ["pitch", "yaw", "roll", "scale", "tx", "ty", "AU45"]
    assert ref.names[EXP_START].startswith("exp:")
    z = ref.normalized()
    np.testing.assert_allclose(z[:, POSE].mean(0), 0, atol=1e-4)  # pose z-scored per video
    np.testing.assert_allclose(z[:, POSE].std(0), 1, atol=1e-3)
    assert 0 <= ref.params[:, EYE].min() and ref.params[:, EYE].max() <= 1  # AU45 / 5
    np.testing.assert_allclose(denormalize(z, ref.offset, ref.scale), ref.params, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_reference_round_trip_and_filling(facial_data, tmp_path):
    from thead.manifest import atomic_save_npz

    ref, _ = reference_params(facial_data["au"])["a"]
    atomic_save_npz(tmp_path / "r.npz", **ref.arrays())
    back = ReferenceParams.load(tmp_path / "r.npz")
    assert back.names == ref.names and np.array_equal(back.params, ref.params)
    # a frame without a fit is interpolated from its neighbours
    fit = tmp_path / "fit.npz"
    d = dict(np.load(next((facial_data["dir"] / "au" / "3dmm").glob("a.*npz"))))
    d["valid"] = d["valid"].copy()
    d["valid"][3] = False
    np.savez(fit, **d)
    r = from_fit(fit, np.zeros(len(d["valid"])), np.ones(len(d["valid"]), bool), 25.0)
    assert r.n_filled == 1
    np.testing.assert_allclose(r.params[3, POSE], (r.params[2, POSE] + r.params[4, POSE]) / 2, rtol=1e-5)
    with pytest.raises(InputError, match="AU rows"):
        from_fit(fit, np.zeros(3), np.ones(3, bool), 25.0)


@pytest.mark.slow
def test_clips_pair_features_and_parameters(facial_data, short_clips, tmp_path):
    clips = load_clips(facial_data["audio"], facial_data["au"])
    assert {c.id for c in clips} == {"a", "b"}
    for c in clips:
        assert len(c.audio) == len(c.params) and c.audio.shape[1] == 39
    from thead.stages import audio_features

    # features counted on the resampled video instead of the fitted frames: a clear error
    other = audio_features.run([short_clips / "a.mp4"], tmp_path / "x", fps=50, preview=False, progress=False)
    with pytest.raises(InputError, match="run audio-features on the landmarks/3dmm manifest"):
        load_clips(other.manifest_path, facial_data["au"])
