"""Outputs of a run: mask videos, PNGs, cutouts, overlay, annotations, written atomically."""
