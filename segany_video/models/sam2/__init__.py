"""SAM 2 / 2.1: Hiera image encoder, SAM heads, memory encoder/attention and video mode."""
