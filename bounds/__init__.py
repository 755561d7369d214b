"""Sampling-error upper bounds for DDPM and AR-DM: symbolic (sympy) and numeric."""
