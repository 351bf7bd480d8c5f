import pytest

from tests.conftest import EXAMPLES


@pytest.fixture(scope="session")
def gath_data(tmp_path_factory, short_clips):
    """Real GATH training data: frontalized 100x100 frames of two short clips and two portraits (source and
    target sets) and the clips' AU coefficient vectors, made by thead's own stages."""
    from thead.stages import au, frontalize

    d = tmp_path_factory.mktemp("gath")
    media = [short_clips / "a.mp4", short_clips / "b.mp4", EXAMPLES / "portraits" / "SadTalker_happy1.png",
             EXAMPLES / "portraits" / "SadTalker_sad1.png"]
    fr = frontalize.run(media, d / "frontal", size=100, progress=False)
    aur = au.run([d / "frontal" / "landmarks" / "manifest.json"], d / "au", preview=False, progress=False)
    assert fr.n_done == 4 and aur.n_done == 4
    return dict(frames=fr.manifest_path, au=aur.manifest_path, dir=d)


@pytest.fixture(scope="session")
def aue_ckpt(gath_data, tmp_path_factory):
    from thead.systems.gath.train import TrainConfig, train_aue

    out = tmp_path_factory.mktemp("aue")
    return train_aue(gath_data["frames"], gath_data["au"], out / "run",
                     TrainConfig(steps=2, batch_size=4, width=8, log_every=1), progress=False)


@pytest.fixture(scope="session")
def gath_ckpt(gath_data, aue_ckpt, tmp_path_factory):
    from thead.systems.gath.train import TrainConfig, train_gath

    out = tmp_path_factory.mktemp("gathrun")
    return train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, out / "run",
                      TrainConfig(steps=2, batch_size=4, width=8, log_every=1, variant="gath"), progress=False)
