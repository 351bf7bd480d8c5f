import pytest


@pytest.fixture(scope="session")
def facial_data(tmp_path_factory, short_clips):
    """Real FACIAL training data for two short clips: AUs made from a 3DMM fit, and MFCC features counted on the
    same frames (audio-features run on the fit manifest)."""
    from thead.stages import au, audio_features

    d = tmp_path_factory.mktemp("facial")
    aur = au.run([short_clips / "a.mp4", short_clips / "b.mp4"], d / "au", preview=False, progress=False)
    assert aur.n_done == 2
    afr = audio_features.run([d / "au" / "3dmm" / "manifest.json"], d / "audio", preview=False, progress=False)
    assert afr.n_done == 2
    return dict(au=aur.manifest_path, audio=afr.manifest_path, dir=d)


def small_gan_config(**kw):
    from thead.systems.facial.train import FacialGANConfig

    base = dict(steps=2, batch_size=2, window=16, hop=2, hidden=8, local_dim=4, width=4, log_every=1,
                checkpoint_every=1)
    base.update(kw)
    return FacialGANConfig(**base)


@pytest.fixture(scope="session")
def facial_renders(facial_data):
    """render-face outputs (64 px) of the two short clips."""
    from thead.systems.facial import render_face

    res = render_face.run(facial_data["au"], facial_data["dir"] / "render", size=64, progress=False)
    assert res.n_done == 2
    return res.manifest_path
