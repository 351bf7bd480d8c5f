"""Speech features with one row per video frame (FACIAL section 3.2: "the input audio is ... prepossessed with
DeepSpeech to generate the feature a in R^{29 x T}") and the 16-frame windows FACIAL's local generator reads
(a[t-8 : t+8]).

Kinds:
- ``mfcc``: 13 MFCCs (python_speech_features; 25 ms windows every 10 ms, 26 mel filters, c0 replaced by log energy)
  with their deltas and delta-deltas, 39-D, at 100 Hz, linearly interpolated to the frame times.
- ``deepspeech``: 29-D per-frame character log-probabilities in DeepSpeech's alphabet order (space, a-z, apostrophe,
  CTC blank last; what FACIAL's official code feeds its network) from a local wav2vec2 CTC checkpoint: each
  wav2vec2 token's probability is added to the DeepSpeech symbol it spells ("|" is the space, "<pad>" the blank,
  letters case-folded; tokens that spell none, such as "<s>" or "<unk>", count as blank). The 50 Hz output is
  linearly interpolated to the frame times (as FACIAL resamples DeepSpeech's 50 Hz output), in probability space,
  so rows stay normalised log-probabilities.

- ``phones``: 40-D per-frame phone probabilities (the 39 ARPAbet phones of CMUdict and silence, ``PHONES``) from
  pocketsphinx's phone recognizer (allphone mode, the en-us acoustic model and phone language model that ship inside
  the ``pocketsphinx`` package; CMU's settings for phoneme recognition: beam and pbeam 1e-20, lw 2.0). The 100 Hz
  one-hot phone track is linearly interpolated to the frame times, so rows at a boundary share it. Why: FACIAL feeds
  a pretrained recognizer's per-frame output (DeepSpeech's character probabilities) because it is
  speaker-independent; pocketsphinx's model is the one pretrained recognizer installable offline (the wav2vec2
  route needs a local checkpoint). Departure: English phones, and a hard decision per 10 ms, where DeepSpeech gives
  soft probabilities. Measured on four real clips with a fixed phone-to-jaw-opening table and no training, the
  phones correlated with the dlib-measured mouth opening at r 0.39-0.54 where the audio RMS reached 0.11-0.39
  (issue 11 note).
- ``mfcc+phones``: both, 79-D (MFCCs first). Through FACIAL it did worse than ``mfcc`` on the 60-minute bench
  (``bench/results/facial_cpu_hour_phones.json``: held-out mouth LMD 1.50x the oracle still mouth against 1.27x,
  flicker 1.79x against 1.08x), mostly through the head pose FACIAL-GAN predicted from it, so FACIAL keeps ``mfcc``.

Row t is the feature at video frame t's time: ``start_s + t / fps`` seconds after the first audio sample, where
``start_s`` is frame 0's timestamp minus the audio stream's start (0 for audio files and most videos).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError

SAMPLE_RATE = 16000  # Hz
WINDOW = 16  # frames per window, FACIAL: a[t-8 : t+8]
MFCC_RATE = 100.0  # Hz (10 ms hop)
WAV2VEC2_RATE = 50.0  # Hz (20 ms stride of the conv feature encoder)
WAV2VEC2_OFFSET_S = 0.0125  # centre of the first output's 25 ms receptive field
DEEPSPEECH_ALPHABET = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'", "<blank>"]
KINDS = ("mfcc", "deepspeech", "phones", "mfcc+phones")
PHONES = ("SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z",
          "ZH")  # ARPAbet (CMUdict) + silence; pocketsphinx's fillers (+NSN+, +SPN+, ...) count as silence
PHONE_RATE = 100.0  # Hz (pocketsphinx's 10 ms frames)
CHUNK_S = 30.0  # wav2vec2 runs on chunks of at most this length (attention memory is quadratic)


def n_frames_for(duration_s: float, fps: float) -> int:
    """Frames of a video of ``duration_s`` at ``fps`` (audio-only input), at least 1."""
    return max(1, int(round(duration_s * fps)))


def resample_rows(feat: np.ndarray, rate: float, fps: float, n_frames: int, offset_s: float = 0.0,
                  start_s: float = 0.0) -> np.ndarray:
    """Linear interpolation of (N, D) features sampled at ``offset_s + k / rate`` onto the frame times
    ``start_s + t / fps``, t = 0..n_frames-1 (seconds from the first audio sample); times outside are clamped to the
    first/last row. Returns (n_frames, D) float32."""
    src_t = offset_s + np.arange(len(feat)) / rate
    dst_t = start_s + np.arange(n_frames) / fps
    out = np.empty((n_frames, feat.shape[1]), np.float64)
    for d in range(feat.shape[1]):
        out[:, d] = np.interp(dst_t, src_t, feat[:, d])
    return out.astype(np.float32)


def windows(feat: np.ndarray, size: int = WINDOW) -> np.ndarray:
    """(T, D) -> (T, size, D): for frame t the rows t - size/2 .. t + size/2 - 1, edge rows repeated."""
    half = size // 2
    idx = np.clip(np.arange(len(feat))[:, None] + np.arange(-half, size - half)[None], 0, len(feat) - 1)
    return feat[idx]


def mfcc_features(audio: np.ndarray, fps: float, n_frames: int, start_s: float = 0.0) -> np.ndarray:
    """(N,) float32 at 16 kHz -> (n_frames, 39) float32: MFCC + delta + delta-delta at the frame times."""
    from python_speech_features import delta, mfcc

    m = mfcc(audio, SAMPLE_RATE, winlen=0.025, winstep=0.01, numcep=13, nfilt=26, nfft=512, appendEnergy=True)
    d1 = delta(m, 2)
    feat = np.concatenate([m, d1, delta(d1, 2)], 1)
    return resample_rows(feat, MFCC_RATE, fps, n_frames, offset_s=0.0125, start_s=start_s)


def phone_segments(audio: np.ndarray) -> list[tuple[str, int, int]]:
    """(N,) float32 at 16 kHz -> [(phone, first 10 ms frame, last frame)] from pocketsphinx's phone recognizer
    (see the module doc), fillers as ``SIL``.

    Raises:
        InputError: pocketsphinx missing or its bundled en-us model absent.
    """
    import os

    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError as e:  # a dependency of thead; only a broken install lacks it
        raise InputError(f"--kind phones needs pocketsphinx ({e})") from None
    mp = get_model_path()
    hmm, allphone = os.path.join(mp, "en-us", "en-us"), os.path.join(mp, "en-us", "en-us-phone.lm.bin")
    if not (os.path.isdir(hmm) and os.path.isfile(allphone)):
        raise InputError(f"--kind phones: pocketsphinx's en-us model is missing under {mp}")
    dec = Decoder(hmm=hmm, allphone=allphone, lm=None, beam=1e-20, pbeam=1e-20, lw=2.0, loglevel="FATAL")
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    return [(s.word if s.word in PHONES else "SIL", int(s.start_frame), int(s.end_frame)) for s in dec.seg()]


def phone_features(audio: np.ndarray, fps: float, n_frames: int, start_s: float = 0.0) -> np.ndarray:
    """(N,) float32 at 16 kHz -> (n_frames, 40) float32 phone probabilities at the frame times (rows sum to 1;
    columns in ``PHONES`` order)."""
    n100 = max(1, int(np.ceil(len(audio) / SAMPLE_RATE * PHONE_RATE)))
    track = np.zeros((n100, len(PHONES)), np.float32)
    track[:, 0] = 1.0  # silence where the recognizer put nothing
    for ph, a, b in phone_segments(audio):
        a, b = max(a, 0), min(b, n100 - 1)
        if b >= a:
            track[a:b + 1] = 0.0
            track[a:b + 1, PHONES.index(ph)] = 1.0
    hop = int(SAMPLE_RATE / PHONE_RATE)  # 10 ms frames below -80 dBFS are silence, whatever was decoded there
    rms = np.sqrt(np.array([np.mean(audio[i * hop:(i + 1) * hop] ** 2) if i * hop < len(audio) else 0.0
                            for i in range(n100)]))
    quiet = rms < 1e-4
    track[quiet] = 0.0
    track[quiet, 0] = 1.0
    return resample_rows(track, PHONE_RATE, fps, n_frames, offset_s=0.0125, start_s=start_s)


class DeepSpeechFeatures:
    """wav2vec2 CTC checkpoint (a local folder saved with ``save_pretrained``, with its ``vocab.json``) -> 29-D
    DeepSpeech-alphabet log-probabilities.

    Raises:
        InputError: missing folder, not loadable by transformers, or a vocabulary spelling no letter.
    """

    def __init__(self, model_dir: Path, device: str = "cpu"):
        import json

        import torch

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise InputError(f"--model {model_dir}: not a saved wav2vec2 checkpoint (no config.json)")
        vocab_file = model_dir / "vocab.json"
        if not vocab_file.is_file():
            raise InputError(f"--model {model_dir}: no vocab.json (save the processor/tokenizer beside the model)")
        try:
            from transformers import Wav2Vec2ForCTC
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self.model = Wav2Vec2ForCTC.from_pretrained(str(model_dir), local_files_only=True)
        except Exception as e:  # noqa: BLE001 - transformers raises many types for a bad folder
            raise InputError(f"--model {model_dir}: cannot load a wav2vec2 CTC model ({type(e).__name__}: "
                             f"{str(e).splitlines()[0][:160]})") from None
        self.model.eval().to(device)
        self.device = device
        vocab = json.loads(vocab_file.read_text())
        n_out = self.model.config.vocab_size
        mapping = np.full(n_out, DEEPSPEECH_ALPHABET.index("<blank>"), np.int64)
        letters = 0
        for tok, i in vocab.items():
            if i >= n_out:
                continue
            sym = " " if tok in ("|", " ") else tok.lower()
            if sym in DEEPSPEECH_ALPHABET[:-1]:
                mapping[i] = DEEPSPEECH_ALPHABET.index(sym)
                letters += sym.isalpha()
        if letters == 0:
            raise InputError(f"--model {model_dir}: its vocabulary spells no letter a-z; not a character CTC model")
        self.map = torch.zeros(n_out, len(DEEPSPEECH_ALPHABET))
        self.map[torch.arange(n_out), torch.from_numpy(mapping)] = 1.0
        pre = model_dir / "preprocessor_config.json"
        self.normalize = json.loads(pre.read_text()).get("do_normalize", True) if pre.is_file() else True

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """(N,) at 16 kHz -> (M, 29) probabilities at 50 Hz."""
        import torch

        step = int(CHUNK_S * SAMPLE_RATE)
        out = []
        with torch.no_grad():
            for i in range(0, len(audio), step):
                x = audio[i:i + step].astype(np.float32)
                if len(x) < 400:  # shorter than one 25 ms receptive field: pad with silence
                    x = np.pad(x, (0, 400 - len(x)))
                if self.normalize:
                    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
                logits = self.model(torch.from_numpy(x)[None].to(self.device)).logits[0].float().cpu()
                out.append(torch.softmax(logits, -1) @ self.map)
        return torch.cat(out).numpy()

    def __call__(self, audio: np.ndarray, fps: float, n_frames: int, start_s: float = 0.0) -> np.ndarray:
        """(N,) float32 at 16 kHz -> (n_frames, 29) float32 log-probabilities (each row's exp sums to 1)."""
        p = resample_rows(self.probabilities(audio), WAV2VEC2_RATE, fps, n_frames, WAV2VEC2_OFFSET_S, start_s)
        p = np.clip(p, 1e-12, None)
        return np.log(p / p.sum(1, keepdims=True)).astype(np.float32)


def audio_features(audio: np.ndarray, fps: float, n_frames: int, kind: str = "mfcc",
                   model: Optional[DeepSpeechFeatures] = None, start_s: float = 0.0) -> np.ndarray:
    """Features (n_frames, D) of 16 kHz mono ``audio`` for ``n_frames`` video frames at ``fps``; frame 0 lies
    ``start_s`` seconds after the first audio sample (non-zero for a video stream that starts late).

    Raises:
        InputError: unknown kind, deepspeech without a model, or audio shorter than one video frame.
    """
    if kind not in KINDS:
        raise InputError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if len(audio) < SAMPLE_RATE / fps:
        raise InputError(f"audio of {len(audio) / SAMPLE_RATE * 1000:.1f} ms is shorter than one video frame "
                         f"({1000 / fps:.1f} ms at {fps:g} fps)")
    if kind == "mfcc":
        return mfcc_features(audio, fps, n_frames, start_s)
    if kind == "phones":
        return phone_features(audio, fps, n_frames, start_s)
    if kind == "mfcc+phones":
        return np.concatenate([mfcc_features(audio, fps, n_frames, start_s),
                               phone_features(audio, fps, n_frames, start_s)], 1)
    if model is None:
        raise InputError("--kind deepspeech needs --model DIR (a local wav2vec2 CTC checkpoint)")
    return model(audio, fps, n_frames, start_s)
