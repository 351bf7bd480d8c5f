"""GATH: Generative Adversarial Talking Head (Pham, Wang, Pavlovic 2018, arXiv 1803.07716)."""
