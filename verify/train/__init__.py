"""Training of score networks by denoising score matching, and their exact score error."""

from verify.train.checkpoint import load_checkpoint, save_checkpoint
from verify.train.dsm import denoising_loss, draw_batch, noised, sample_times
from verify.train.loop import LR_SCHEDULES, StepInfo, TrainConfig, TrainResult, train
from verify.train.score_error import (
    DSMIdentity,
    Estimate,
    distribution_score,
    dsm_constant,
    dsm_identity,
    integrated_patch_errors,
    integrated_score_error,
    score_error,
    score_error_profile,
)

__all__ = [
    "DSMIdentity",
    "Estimate",
    "LR_SCHEDULES",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "denoising_loss",
    "distribution_score",
    "draw_batch",
    "dsm_constant",
    "dsm_identity",
    "integrated_patch_errors",
    "integrated_score_error",
    "load_checkpoint",
    "noised",
    "sample_times",
    "save_checkpoint",
    "score_error",
    "score_error_profile",
    "train",
]
