"""Training loop: Adam on the denoising loss (verify.train.dsm), EMA of the weights, fresh data
every step, atomic checkpoints and exact resume.

Reproducibility: step i draws its batch with a generator seeded from (config.seed, i), so a
run's data depend only on the seed and the step index; with the model's initial weights fixed,
two CPU runs are bit-identical, and a run resumed from a checkpoint (weights, EMA, Adam state,
loss history) ends with the same weights as an uninterrupted one.
EMA: theta_ema <- r theta_ema + (1 - r) theta with r = min(ema_decay, (1 + i) / (10 + i)) at
step i, so early averages are not dominated by the initial weights.
Learning rate: eta_i = TrainConfig.learning_rate(i), a pure function of the step index, set on
the optimizer before every step; a resumed run therefore follows the same schedule.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from verify.models import PatchScoreModel
from verify.train.checkpoint import load_checkpoint, save_checkpoint
from verify.train.dsm import denoising_loss, draw_batch

LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """steps: Adam steps; batch: fresh samples per step; lr: peak Adam learning rate; ema_decay in
    [0, 1); times log-uniform on [delta, T]; grad_clip: max gradient norm (None: no clipping);
    checkpoint_every: steps between checkpoints (0: only at the end, when a folder is given);
    lr_schedule in LR_SCHEDULES and warmup_steps < steps: see `learning_rate`."""

    steps: int = 2000
    batch: int = 256
    lr: float = 1e-3
    ema_decay: float = 0.999
    T: float = 4.0
    delta: float = 1e-3
    seed: int = 0
    grad_clip: float | None = 1.0
    checkpoint_every: int = 0
    device: str = "cpu"
    lr_schedule: str = "constant"
    warmup_steps: int = 0

    def __post_init__(self):
        for name in ("steps", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        for name in ("seed", "checkpoint_every", "warmup_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: must be a finite positive number, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule: must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps: must be < steps ({self.steps}), got {self.warmup_steps}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay: must be in [0, 1), got {self.ema_decay}")
        if not (math.isfinite(self.T) and 0 < self.delta < self.T):
            raise ValueError(f"delta: must satisfy 0 < delta < T ({self.T}), got {self.delta}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip: must be positive or None, got {self.grad_clip}")
        try:
            torch.device(self.device)
        except RuntimeError as err:
            raise ValueError(f"device: {err}") from None

    def learning_rate(self, step: int) -> float:
        """eta_i at 0-based step i, with w = warmup_steps and S = steps: linear warm-up
        eta_i = lr (i + 1) / w for i < w, then lr ("constant") or
        lr (1 + cos(pi (i - w) / (S - w))) / 2 ("cosine", from lr at i = w towards 0 at i = S)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return self.lr
        progress = (step - self.warmup_steps) / (self.steps - self.warmup_steps)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepInfo(NamedTuple):
    """Passed to the callback after each step (step counts completed steps, from 1)."""

    step: int
    loss: float
    model: nn.Module
    ema: nn.Module


@dataclass
class TrainResult:
    """The trained model, its EMA copy, the per-step mean loss, and bookkeeping."""

    model: nn.Module
    ema: nn.Module
    losses: list[float]
    config: TrainConfig
    resumed_from: int
    elapsed_s: float


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of step `step`: seeded from (seed, step) through numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, step]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


def _check_compatible(model: nn.Module, distribution) -> None:
    if isinstance(model, PatchScoreModel):
        if tuple(model.patch_sizes) != tuple(distribution.patch_sizes):
            raise ValueError(
                f"model: patch sizes {model.patch_sizes} differ from the distribution's "
                f"{distribution.patch_sizes}"
            )
    elif getattr(model, "dim", distribution.dim) != distribution.dim:
        raise ValueError(f"model: dimension {model.dim} differs from the data's {distribution.dim}")


def train(model: nn.Module, distribution, config: TrainConfig, checkpoint_dir=None, callback=None):
    """Train `model` (in place) on fresh samples of `distribution`; returns a TrainResult.

    With `checkpoint_dir`, resumes from its checkpoint when one exists (it must come from the
    same config) and writes one every `checkpoint_every` steps and at the end. Raises
    FloatingPointError naming the step when the loss or the gradient becomes non-finite.
    """
    _check_compatible(model, distribution)
    device = torch.device(config.device)
    model.to(device).train()
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses: list[float] = []
    start = 0
    state = load_checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if state is not None:
        if state["config"] != dataclasses.asdict(config):
            raise ValueError(f"checkpoint_dir: holds another config's checkpoint {state['config']}")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        losses, start = list(state["losses"]), state["step"]

    def checkpoint(step: int) -> None:
        save_checkpoint(
            checkpoint_dir,
            {
                "config": dataclasses.asdict(config),
                "step": step,
                "losses": losses,
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
            },
        )

    dtype = next(model.parameters()).dtype
    began = time.perf_counter()
    # disable=None: tqdm shows the bar only when stderr is a TTY
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=None)
    for i in bar:
        batch = draw_batch(
            model,
            distribution,
            config.batch,
            config.delta,
            config.T,
            step_generator(config.seed, i),
        )
        x0, t, eps = (v.to(device, dtype) for v in batch)
        loss = denoising_loss(model, x0, t, eps).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became non-finite ({loss.item()}) at step {i + 1}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate(i)
        if config.grad_clip is not None:
            norm = nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            if not torch.isfinite(norm):
                raise FloatingPointError(f"gradient became non-finite at step {i + 1}")
        optimizer.step()
        rate = min(config.ema_decay, (1 + i) / (10 + i))
        with torch.no_grad():
            for averaged, current in zip(ema.parameters(), model.parameters(), strict=True):
                averaged.lerp_(current, 1.0 - rate)
        losses.append(loss.item())
        if i % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4g}")
        every = config.checkpoint_every
        if checkpoint_dir is not None and every and (i + 1) % every == 0:
            checkpoint(i + 1)
        if callback is not None:
            callback(StepInfo(i + 1, losses[-1], model, ema))
    bar.close()
    if checkpoint_dir is not None and start < config.steps:
        checkpoint(config.steps)
    return TrainResult(model, ema, losses, config, start, time.perf_counter() - began)
