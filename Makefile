# Two entry points for a new user (README.md): `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg make libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri

.PHONY: demo test test-fast install install-system install-python schemas clean

install-system:
	@if ! command -v ffmpeg >/dev/null || ! ldconfig -p | grep -q libEGL_mesa; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

install-python:
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[test]"

install: install-system install-python

# Main job: the preprocessing chain on the bundled clips and portraits (demo_out/report.md), then a few minutes of
# GATH training and `synthesize gath --au zeros` on a bundled portrait (demo_out/gath/report.md), then a few minutes
# of FLNet training and one clip's person driven by another clip (demo_out/flnet/report.md), then a few minutes of
# FACIAL training and a bundled clip's person speaking a bundled speech file (demo_out/facial/report.md)
# The step counts keep the whole job within 15 minutes on 2 cores (measured: 16m23s with the Makefiles' own
# defaults, 14m41s with 120 GATH and 220 FLNet steps, 13m39s with these; 12m47s once FACIAL fine-tunes the bundled
# pretrained FACIAL-GAN instead of training one, its rendering-to-video network a U-Net, 300 steps at batch 4).
demo: install
	$(MAKE) -f stages/gath.mk WORK=demo_out GATH_STEPS=100 preprocess gath
	$(MAKE) -f stages/flnet.mk WORK=demo_out FL_STEPS=200 FL_TRAIN_FLAGS="--d-steps 1" flnet
	$(MAKE) -f stages/facial.mk WORK=demo_out facial

test: install
	$(PYTHON) -m pytest -q

# The quick loop while developing: everything but the tests marked slow (whole Makefile chains, end-to-end CLI runs,
# training fixtures and evaluations on real clips: every test that took 0.3 s or more in a `--durations` run of
# the whole suite, and those that inherited a fixture's setup after them); `make test` (CI) runs them all.
# Measured on 2 cores: 219 tests in 34 s (the whole suite: 403 tests in 12m25s).
test-fast:
	$(PYTHON) -m pytest -q -m "not slow"

schemas:
	thead manifest schema -o manifests

clean:
	rm -rf demo_out thead_out .pytest_cache
