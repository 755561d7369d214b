"""Golden values: the docs/math.md section 5 sanity pipeline end to end with fixed seeds.

1-D q_0 = N(2, 0.25), T = 3, 40 uniform EI steps, delta = 0.01, exact score + 0.3. Two layers:
- against docs/math.md's independently derived values (exact 0.102, chain 0.626, Girsanov 0.628), within
  the printed precision or four standard errors;
- against pinned numbers of this very pipeline (regression: any change to a kernel, a seed stream or
  an estimator shows up). They were recorded with torch 2.13.0 on CPU; other torch versions may draw
  different random streams, so that layer is skipped there. After an intended change, re-record them
  and say why in the commit.
"""

import pytest
import torch

from synthetic.presets import make
from verify.exact import gaussian_sampler_law
from verify.grids import uniform
from verify.metrics import chain_path_kl, gaussian_kl, girsanov_bound
from verify.samplers.perturb import Bias

GOLDEN_TORCH = "2.13.0"
GOLDEN = {"exact": 0.10227649991702414, "chain": 0.6067584348942159, "girsanov": 0.6265949972046323}


@pytest.fixture(scope="module")
def pipeline():
    target = make("gaussian_1d")
    grid = uniform(3.0, 40, 0.01)
    score = Bias(target.score, [0.3])
    law = gaussian_sampler_law(lambda t: score.affine(*target.affine_score(t), t), grid, 1)
    precision, shift = target.affine_score(0.01)
    cov = -torch.linalg.inv(precision)
    exact = gaussian_kl(cov @ shift, cov, law.mean, law.cov)
    chain = chain_path_kl(target, score, grid, 4000, generator=torch.Generator().manual_seed(1)).total
    girsanov = girsanov_bound(target, score, grid, 4000, generator=torch.Generator().manual_seed(2)).bound
    return exact, chain, girsanov


def test_matches_math_md_sanity_values(pipeline):
    exact, chain, girsanov = pipeline
    assert round(exact, 3) == 0.102
    assert abs(chain.value - 0.626) <= 4 * chain.stderr + 5e-4
    assert abs(girsanov.value - 0.628) <= 4 * girsanov.stderr + 5e-4
    assert exact <= chain.value + 4 * chain.stderr and chain.value <= girsanov.value + 4 * chain.stderr


@pytest.mark.skipif(not torch.__version__.startswith(GOLDEN_TORCH), reason="pinned on torch 2.13")
def test_pinned_golden_values(pipeline):
    exact, chain, girsanov = pipeline
    measured = {"exact": exact, "chain": chain.value, "girsanov": girsanov.value}
    for name, value in GOLDEN.items():
        assert measured[name] == pytest.approx(value, rel=1e-9), name
