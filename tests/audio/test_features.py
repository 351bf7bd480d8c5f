import json

import numpy as np
import pytest

from tests.conftest import shared
from thead.audio.features import (DEEPSPEECH_ALPHABET, DeepSpeechFeatures, audio_features, resample_rows,
                                  windows)
from thead.errors import InputError


def tiny_wav2vec2(folder):
    """A tiny random wav2vec2 CTC model with an English character vocabulary, saved like a hub checkpoint."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{chr(65 + i): 5 + i for i in range(26)},
             "'": 31}
    cfg = Wav2Vec2Config(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, pad_token_id=0)
    Wav2Vec2ForCTC(cfg).save_pretrained(folder)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    return folder


def test_resample_rows_is_linear_interpolation():
    feat = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]])  # at 0, 0.5, 1.0 s (2 Hz)
    out = resample_rows(feat, 2.0, 4.0, 6)  # at 0, .25, .5, .75, 1.0, 1.25 s
    assert out[:, 0].tolist() == pytest.approx([0, 0.5, 1, 1.5, 2, 2])  # clamped past the end
    assert out[:, 1].tolist() == pytest.approx([10, 15, 20, 25, 30, 30])


def test_windows_are_centred_with_repeated_edges():
    feat = np.arange(5, dtype=np.float32)[:, None]
    w = windows(feat)
    assert w.shape == (5, 16, 1)
    assert w[2, :, 0].tolist() == [0] * 6 + [0, 1, 2, 3, 4] + [4] * 5  # rows t-8 .. t+7
    assert all(w[t, 8, 0] == t for t in range(5))


@pytest.mark.slow
def test_mfcc_of_real_speech_and_silence():
    from thead.media import load_audio

    speech = load_audio(shared("audio/video-retalking_audio_1.wav"))
    f = audio_features(speech, 25.0, 125)
    assert f.shape == (125, 39) and np.isfinite(f).all()
    silence = np.zeros(16000, np.float32)
    g = audio_features(silence, 25.0, 25)
    assert np.isfinite(g).all()
    assert f[:, 0].std() > 5 * g[:, 0].std()  # energy varies in speech, not in silence


@pytest.mark.slow
def test_phones_of_real_speech_and_silence():
    """pocketsphinx's bundled English phone recognizer on real speech: one probability row per video frame over
    silence + 39 phones, many different phones in 5 s of speech, nothing but silence in silence; mfcc+phones is
    both side by side."""
    from thead.audio.features import PHONES, mfcc_features
    from thead.media import load_audio

    speech = load_audio(shared("audio/video-retalking_audio_1.wav"))[:5 * 16000]
    f = audio_features(speech, 25.0, 125, kind="phones")
    assert f.shape == (125, len(PHONES)) == (125, 40) and np.isfinite(f).all()
    assert np.allclose(f.sum(1), 1.0, atol=1e-5) and f.min() >= 0
    spoken = set(np.array(PHONES)[f.argmax(1)]) - {"SIL"}
    assert len(spoken) >= 12
    vowels = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
    assert spoken & vowels and (f[:, 0] > 0.5).mean() < 0.5  # mostly speech, and vowels among it
    silent = audio_features(np.zeros(32000, np.float32), 25.0, 50, kind="phones")
    assert np.allclose(silent[:, 0], 1.0)
    both = audio_features(speech, 25.0, 125, kind="mfcc+phones")
    assert both.shape == (125, 79)
    assert np.allclose(both[:, :39], mfcc_features(speech, 25.0, 125)) and np.allclose(both[:, 39:], f)


def test_too_short_and_bad_kind():
    with pytest.raises(InputError, match="shorter than one video frame"):
        audio_features(np.zeros(100, np.float32), 25.0, 1)
    with pytest.raises(InputError, match="--kind"):
        audio_features(np.zeros(16000, np.float32), 25.0, 25, kind="lpc")
    with pytest.raises(InputError, match="needs --model"):
        audio_features(np.zeros(16000, np.float32), 25.0, 25, kind="deepspeech")


@pytest.mark.slow
def test_deepspeech_features_from_a_saved_tiny_checkpoint(tmp_path):
    from thead.media import load_audio

    ds = DeepSpeechFeatures(tiny_wav2vec2(tmp_path / "w2v"))
    assert len(DEEPSPEECH_ALPHABET) == 29
    speech = load_audio(shared("audio/video-retalking_audio_1.wav"))
    f = ds(speech, 25.0, 125)
    assert f.shape == (125, 29) and f.dtype == np.float32
    assert (f <= 1e-6).all()  # log-probabilities
    np.testing.assert_allclose(np.exp(f).sum(1), 1.0, atol=1e-5)
    assert np.ptp(f, axis=0).max() > 1e-4  # the model's output changes over time
    short = ds(speech[:800], 25.0, 2)  # 50 ms
    assert short.shape == (2, 29) and np.isfinite(short).all()


@pytest.mark.slow
def test_bad_model_folders(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        DeepSpeechFeatures(tmp_path)
    d = tiny_wav2vec2(tmp_path / "w2v")
    (d / "vocab.json").write_text(json.dumps({"<pad>": 0, "1": 1, "2": 2}))
    with pytest.raises(InputError, match="no letter"):
        DeepSpeechFeatures(d)
    (d / "model.safetensors").write_bytes(b"junk")
    (d / "vocab.json").unlink()
    with pytest.raises(InputError, match="vocab.json"):
        DeepSpeechFeatures(d)
