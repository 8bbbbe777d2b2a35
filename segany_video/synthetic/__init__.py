"""Generated test clips with exact ground truth, for tests, samples and benchmarks."""
