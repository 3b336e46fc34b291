"""The risk core: pure, synchronous rules that the ticker and the kernel ask, and never second-guess."""
