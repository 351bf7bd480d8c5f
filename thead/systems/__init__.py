"""The three talking-head systems built on thead's stages: gath (this release), flnet and facial (later)."""
