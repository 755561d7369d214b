"""The truth through the models' output path: forward noise to delta, then the Tweedie step.

A sampler with `denoise=True` returns E[x_0 | x_delta] under its score. The metric's floor is the
same map under the true law: x_0 ~ data, x_delta = a x_0 + s eps (a = e^{-delta},
s^2 = 1 - e^{-2 delta}), output E[x_0 | x_delta] (docs/math.md section 3, Tweedie).

- Parametric form (a GaussianMixture q): E[x_0 | x] = e^{delta} (x + s^2 grad log q_delta(x)), exact.
- Image form: the images are r(theta) = 2 render(f(theta)) - 1 with theta of dimension <= 2, so
  the posterior over theta is computed on the midpoint grid theta~_i of `synthetic.rules`
  (weights w_i): E[x_0 | x] ~ sum_i pi_i(x) r(theta~_i) with
  pi_i(x) proportional to w_i exp(-||x - a r(theta~_i)||^2 / (2 s^2)) (quadrature of the exact
  posterior mean; as the grid is refined it converges to it).
"""

from __future__ import annotations

import math

import torch

from synthetic.rules import quadrature_nodes
from synthetic.validation import DTYPE
from verify.rules.render import RenderedRules, patchify, render
from verify.train.dsm import noised


def forward_noise(x0: torch.Tensor, t: float, generator: torch.Generator) -> torch.Tensor:
    """x_t = a_t x_0 + s_t eps, eps ~ N(0, I) drawn with `generator`."""
    if not t > 0:
        raise ValueError(f"t: must be positive, got {t}")
    eps = torch.randn(x0.shape, dtype=x0.dtype, generator=generator)
    return noised(x0, torch.tensor(float(t), dtype=x0.dtype), eps)


def mixture_tweedie(mixture, x: torch.Tensor, t: float) -> torch.Tensor:
    """Exact E[x_0 | x_t = x] = e^t (x + s_t^2 grad log q_t(x)) for a distribution with a score."""
    return math.exp(t) * (x + -math.expm1(-2.0 * t) * mixture.score(x, t))


def image_tweedie(data: RenderedRules, x: torch.Tensor, t: float, nodes, chunk: int = 64, device="cpu"):
    """Quadrature E[x_0 | x_t = x] (n, d) for the image form `data`, `nodes` cells per interval;
    the (n x grid) likelihood products run on `device`, the result is on x's device."""
    if x.ndim != 2 or x.shape[1] != data.dim:
        raise ValueError(f"x: expected shape (n, {data.dim}), got {tuple(x.shape)}")
    theta, weights = quadrature_nodes(data.task, nodes)
    images = 2 * patchify(render(data.task, data.task.geometry(theta), data.size), data.num_patches) - 1
    a, var = math.exp(-t), -math.expm1(-2.0 * t)
    images, weights = images.to(device, DTYPE), weights.to(device)
    norms = images.square().sum(dim=1)
    out = []
    for rows in x.to(device, DTYPE).split(chunk):
        # -||x - a r||^2 / (2 s^2) up to a per-row constant
        logits = weights.log() + (a * rows @ images.T - 0.5 * a * a * norms) / var
        out.append(torch.softmax(logits, dim=1) @ images)
    return torch.cat(out).to(x.device)
