"""Samplers sharing one signature; the score is injected (k-diffusion style)."""

from verify.samplers.kernels import SCHEMES, StepKernel, step_kernel

__all__ = ["SCHEMES", "StepKernel", "step_kernel"]
