"""FACIAL (Zhang et al., ICCV 2021): speech audio plus a short reference video gives a talking video with lip sync,
head pose and eye blinks (FACIAL-GAN -> 3DMM render with an eye attention map -> rendering-to-video network)."""
