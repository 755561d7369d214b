"""Diffusion machinery, exact sampler laws, estimators and one experiment per claim."""
