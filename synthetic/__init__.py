"""Ground truth: distributions with exact log-density, score, conditionals and sampling at any OU time."""

from synthetic import presets
from synthetic.base import Distribution
from synthetic.gaussian_mixture import GaussianMixture
from synthetic.independent_patches import IndependentPatches
from synthetic.linear_gaussian_chain import LinearGaussianChain
from synthetic.markov_chain import MarkovChainMixture
from synthetic.patches import Patches

__all__ = [
    "Distribution",
    "GaussianMixture",
    "IndependentPatches",
    "LinearGaussianChain",
    "MarkovChainMixture",
    "Patches",
    "presets",
]
