"""Score networks (epsilon prediction) selectable by name, and adapters to score callables.

Every network predicts eps; its score estimate is s_theta = -eps_hat / s_t, s_t^2 = 1 - e^{-2t}.
"mlp" models the joint (DDPM); "conditional-mlp" and "causal-transformer" model every AR-DM
stage k with one shared network.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthetic.ou import ou_variance
from verify.models.conditional import ConditionalScoreMLP, PatchScoreModel
from verify.models.embedding import SinusoidalTimeEmbedding
from verify.models.matching import match_width
from verify.models.mlp import ScoreMLP
from verify.models.transformer import CausalTransformerScore

MODELS = {
    "mlp": ScoreMLP,
    "conditional-mlp": ConditionalScoreMLP,
    "causal-transformer": CausalTransformerScore,
}
WIDTH_ARGUMENT = {"mlp": "hidden", "conditional-mlp": "hidden", "causal-transformer": "width"}


def build_model(name: str, dim: int, patch_sizes=None, seed: int | None = None, **kw) -> nn.Module:
    """Network `name` on R^dim split into `patch_sizes` (None: one patch); `seed` fixes the init."""
    if name not in MODELS:
        raise ValueError(f"name: unknown model {name!r}; known: {sorted(MODELS)}")
    patch_sizes = (dim,) if patch_sizes is None else tuple(patch_sizes)
    if sum(patch_sizes) != dim:
        raise ValueError(f"patch_sizes: must sum to dim {dim}, got {patch_sizes}")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return MODELS[name](dim, **kw) if name == "mlp" else MODELS[name](patch_sizes, **kw)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def width_for_parameters(name: str, target: int, dim: int, patch_sizes=None, **kw) -> int:
    """The width (hidden or width, by model) whose parameter count is closest to `target`.

    Parameter counts grow with the width, so this bisects; for the transformer the width stays a
    multiple of its number of heads.
    """
    step = kw.get("heads", 4) if name == "causal-transformer" else 1
    key = WIDTH_ARGUMENT.get(name)
    if key is None:
        raise ValueError(f"name: unknown model {name!r}; known: {sorted(MODELS)}")

    return match_width(
        lambda width: build_model(name, dim, patch_sizes, **{key: width}, **kw),
        count_parameters,
        target,
        step,
    )


def _noise_std(t: float) -> float:
    if not t > 0:
        raise ValueError(f"t: a network score needs t > 0, got {t}")
    return math.sqrt(ou_variance(t))


def _evaluate(model: nn.Module, *args) -> torch.Tensor:
    """model(*args) in eval mode without gradients, restoring the training flag afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(*args)
    finally:
        model.train(was_training)


def _parameter(model: nn.Module) -> torch.Tensor:
    return next(model.parameters())


def as_score(model: nn.Module):
    """score(x, t) = -eps_hat(x, t) / s_t: float64 (n, d) in and out, for verify.samplers."""

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        std, p = _noise_std(t), _parameter(model)
        eps = _evaluate(model, x.to(p.device, p.dtype), float(t))
        return (-eps / std).to(x.device, torch.float64)

    return score


def as_conditional_score(model: PatchScoreModel):
    """score(k, x_k, prefix, t) = -eps_hat(k, x_k, prefix, t) / s_t, float64 (n, d_k)."""

    def score(k: int, x_k: torch.Tensor, prefix: torch.Tensor, t: float) -> torch.Tensor:
        std, p = _noise_std(t), _parameter(model)
        args = (x_k.to(p.device, p.dtype), prefix.to(p.device, p.dtype), float(t))
        eps = _evaluate(model, k, *args)
        return (-eps / std).to(x_k.device, torch.float64)

    return score


__all__ = [
    "MODELS",
    "CausalTransformerScore",
    "ConditionalScoreMLP",
    "PatchScoreModel",
    "ScoreMLP",
    "SinusoidalTimeEmbedding",
    "as_conditional_score",
    "as_score",
    "build_model",
    "count_parameters",
    "width_for_parameters",
]
