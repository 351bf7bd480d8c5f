"""The shared per-item stages, declared once (``thead.declare``): their settings with defaults and help text, the
kinds they read and write, and where their code lives. ``thead.cli.stages`` generates their commands from this;
their ``run`` functions take their defaults from here. No heavy import, so ``thead --help`` stays fast.

The systems' own stages are declared beside their systems: ``render-face`` in ``thead.systems.facial.config``,
``make-bank`` in ``thead.systems.flnet.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from thead.declare import Config, StageDecl, setting

MEDIA = "media"


@dataclass
class LandmarkSettings(Config):
    """What every stage that may run landmark extraction first takes for it (``extract-landmarks``)."""

    detector: str = setting("hog", "Face detector: hog (dlib HOG) or cnn (dlib mmod, slower).", choices=("hog", "cnn"))
    redetect_every: int = setting(10, "Frames between detector runs while tracking.", low=1)
    fps: Optional[float] = setting(None, "Decode videos at this constant rate, frames/s (default: average rate).",
                                   low=0.0, low_open=True)


@dataclass
class LandmarksConfig(LandmarkSettings):
    interpolate_gaps: bool = setting(False, "Fill gaps of up to 1 s without a face (flagged).")
    preview: bool = setting(True, "Write overlays/plots to look at.")


@dataclass
class Fit3DMMConfig(LandmarkSettings):
    model: Optional[Path] = setting(None, "Face model: BFM_model_front.mat or an ICT .npz (default: bundled ICT Face "
                                    "Model Light).")
    preview: bool = setting(True, "Write overlays/plots to look at.")

    def run_kwargs(self) -> dict:
        return dict(super().run_kwargs(), model=str(self.model) if self.model else None)


@dataclass
class AUConfig(Fit3DMMConfig):
    from_openface: bool = setting(False, "Inputs are OpenFace FeatureExtraction CSVs.", flag="--from-openface")
    model: Optional[Path] = setting(None, "Face model for the fit (when given media).")


@dataclass
class FrontalizeConfig(LandmarkSettings):
    size: int = setting(100, "Output crop size, pixels (GATH: 100).", low=16, high=2048)
    model: Optional[Path] = setting(None, "Face model whose mean shape is the reference head.")

    def run_kwargs(self) -> dict:
        return dict(super().run_kwargs(), model=str(self.model) if self.model else None)


@dataclass
class CropConfig(LandmarkSettings):
    size: int = setting(128, "Crop side, px (FLNet: 224; 128 for CPU); multiple of 16.", low=16, high=1024)
    center: str = setting("nose", "nose (nose tip at the centre) or eyes (outer eye corners' midpoint).",
                          choices=("nose", "eyes"))
    scale: float = setting(2.8, "Crop side in outer-eye-corner distances (one per clip, no zooming).", low=0.0,
                           low_open=True)
    identity: Optional[str] = setting(None, "Tag every input as this one person (else one per item).")
    interpolate_gaps: bool = setting(False, "Fill gaps of up to 1 s without a face (flagged).")


@dataclass
class AudioFeaturesConfig(Config):
    kind: str = setting("mfcc", "mfcc (39-D, no weights needed), deepspeech (29-D character log-probabilities from "
                        "--model), phones (40-D phone probabilities from pocketsphinx's bundled English recognizer) "
                        "or mfcc+phones (79-D).", choices=("mfcc", "deepspeech", "phones", "mfcc+phones"))
    model: Optional[Path] = setting(None, "Local wav2vec2 CTC checkpoint folder (config.json, weights, vocab.json) "
                                    "for --kind deepspeech.")
    fps: Optional[float] = setting(None, "Video frame rate: for audio-only inputs (default 25) or to resample videos "
                                   "(default their average rate).", low=0.0, low_open=True)
    device: str = setting("cpu", "cpu or cuda (deepspeech).")
    preview: bool = setting(True, "Write overlays/plots to look at.")


@dataclass
class ClaheConfig(Config):
    mode: str = setting("value", "value (HSV V, as scikit-image), lab (L*) or rgb (per channel).",
                        choices=("value", "lab", "rgb"))
    clip_limit: float = setting(0.01, "Clip limit, scikit-image's normalized units.", low=0.0, high=1.0)
    tiles: int = setting(8, "Tiles per side.", low=1)
    denoise: float = setting(0.0, "Non-local-means strength h (0: off).", low=0.0)
    sharpen: float = setting(0.0, "Unsharp-mask amount (0: off).", low=0.0)
    preview: bool = setting(True, "Write overlays/plots to look at.")


LANDMARKS = StageDecl(
    "extract-landmarks", "thead.stages.landmarks:run", LandmarksConfig, (MEDIA, "any manifest with sources"),
    "thead.landmarks",
    "68-point landmarks (dlib, ibug order) per frame; writes a thead.landmarks manifest. Method: dlib HOG/mmod "
    "detection with landmark-box tracking (Kazemi & Sullivan 2014 shape predictor).",
    "thead extract-landmarks videos/ -o work/landmarks", "Videos, images, folders of them, or a manifest.",
    "thead_out/landmarks")
FIT3DMM = StageDecl(
    "fit-3dmm", "thead.stages.fit3dmm:run", Fit3DMMConfig, ("thead.landmarks", MEDIA), "thead.3dmm",
    "Fit a 3DMM to each clip's landmarks: identity per clip, expression and pose per frame, with per-frame "
    "reprojection error.",
    "thead fit-3dmm work/landmarks/manifest.json -o work/3dmm",
    "A thead.landmarks manifest, or media (landmarks run first).", "thead_out/3dmm")
AU = StageDecl(
    "extract-au", "thead.stages.au:run", AUConfig, ("thead.3dmm", "thead.landmarks", MEDIA, "OpenFace CSV"),
    "thead.au",
    "Action-unit intensities AU01_r..AU45_r (OpenFace scale 0-5) per frame, from ICT blendshape weights (AU arrays "
    "+ their OpenFace CSV export + expression .npy + plot).",
    "thead extract-au work/3dmm/manifest.json -o work/au", "A thead.3dmm manifest, media, or OpenFace CSVs.",
    "thead_out/au")
FRONTALIZE = StageDecl(
    "frontalize", "thead.stages.frontalize:run", FrontalizeConfig, ("thead.landmarks", MEDIA), "thead.frames",
    "Frontalize faces (Hassner et al., CVPR 2015) to size x size crops, soft symmetry for occluded parts (role "
    "frontal: PNG, PNG folders, MP4, contact sheet).",
    "thead frontalize portraits/ --size 100 -o work/frontal",
    "A thead.landmarks manifest, or media (landmarks run first).", "thead_out/frontal")
CROP = StageDecl(
    "crop-faces", "thead.stages.crop:run", CropConfig, ("thead.landmarks", MEDIA), "thead.frames",
    "FLNet face crops: the face centred without alignment (no rotation, one zoom per clip), landmarks in crop px "
    "(role face_crop: PNG, PNG folders, MP4, landmarks npz).",
    "thead crop-faces videos/ --size 128 --identity alice -o work/crops",
    "A thead.landmarks manifest, or media (landmarks run first).", "thead_out/crops")
AUDIO_FEATURES = StageDecl(
    "audio-features", "thead.stages.audio_features:run", AudioFeaturesConfig,
    (MEDIA, "thead.landmarks", "thead.3dmm"), "thead.audio",
    "Speech features with one row per video frame (FACIAL section 3.2; FACIAL-GAN cuts its 16-frame windows from "
    "them): .npy (T, D) and a plot.",
    "thead audio-features speech.wav --fps 25 -o work/audio;  thead audio-features work/landmarks/manifest.json "
    "--kind deepspeech --model wav2vec2-base-960h/",
    "Audio or video files, folders, or a thead.landmarks / thead.3dmm manifest (its frame counts and rates are "
    "used).", "thead_out/audio")
CLAHE = StageDecl(
    "postprocess-clahe", "thead.stages.clahe:run", ClaheConfig, (MEDIA, "thead.frames"), "thead.frames",
    "CLAHE contrast restoration (GATH section 4.2), optional NLM denoise and unsharp mask; frames keep their role.",
    "thead postprocess-clahe work/frontal/manifest.json -o work/clahe",
    "Images, videos, folders, or a thead.frames manifest.", "thead_out/clahe")

STAGES = (LANDMARKS, FIT3DMM, AU, FRONTALIZE, CROP, AUDIO_FEATURES, CLAHE)
