"""Diffusion machinery, exact sampler laws, estimators and one experiment per claim."""

__version__ = "0.1.0"
