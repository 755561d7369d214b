"""Samplers sharing one signature; the score is injected (k-diffusion style)."""

from verify.samplers.ar import sample_ar
from verify.samplers.ddpm import StepRecord, sample
from verify.samplers.kernels import SCHEMES, StepKernel, step_kernel

__all__ = ["SCHEMES", "StepKernel", "StepRecord", "sample", "sample_ar", "step_kernel"]
