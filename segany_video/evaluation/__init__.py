"""Scoring against ground truth: J/F metrics, DAVIS evaluation, `score`."""
