"""Ground truth: distributions with exact log-density, score, conditionals and sampling at any OU time."""

from synthetic.base import Distribution

__all__ = ["Distribution"]
