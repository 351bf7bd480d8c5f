"""FLNet (Gu, Zhou, Huang, AAAI 2020): a bank of N face crops of one person plus target 68-point landmarks gives that
person with the target face shape, by a warping-based fetching stream merged with an appearance stream."""
