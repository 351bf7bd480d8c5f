import pytest

SIZE = 64


@pytest.fixture(scope="session")
def flnet_crops(tmp_path_factory, short_clips):
    """Real FLNet crops (64 px, nose-centred) of three short clips, made by thead's own stages."""
    from thead.stages import crop

    d = tmp_path_factory.mktemp("flnet")
    res = crop.run([short_clips / "a.mp4", short_clips / "b.mp4", short_clips / "c.mp4"], d / "crops", size=SIZE,
                   progress=False)
    assert res.n_done == 3
    return res.manifest_path


def small_config(**kw):
    from thead.systems.flnet.train import FLNetConfig

    base = dict(steps=2, batch_size=2, width=4, d_width=4, log_every=1, checkpoint_every=1,
                d_steps=2, history=3)
    base.update(kw)
    return FLNetConfig(**base)


@pytest.fixture(scope="session")
def flnet_ckpt(flnet_crops, tmp_path_factory):
    from thead.systems.flnet.train import train_flnet

    out = tmp_path_factory.mktemp("flnetrun") / "run"
    return train_flnet(flnet_crops, out, small_config(), progress=False, say=lambda m: None)


@pytest.fixture(scope="session")
def flnet_bank(flnet_crops, tmp_path_factory):
    from thead.systems.flnet.bank import make_banks

    out = tmp_path_factory.mktemp("bank")
    return make_banks(flnet_crops, out, 5, (0.0, 0.8), identities=["a"], progress=False).manifest_path
