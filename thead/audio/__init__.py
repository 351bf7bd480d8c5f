"""Speech features aligned to video frames (FACIAL's audio input): MFCC and DeepSpeech-style character
log-probabilities from a local wav2vec2 CTC checkpoint."""
