"""Bundled YAML configs (presets, model table), shipped inside the package."""
