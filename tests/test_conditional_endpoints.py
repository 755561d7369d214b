"""The conditional endpoints of a grid law against closed forms on Gaussian targets.

q = N(m, S) and p^ = N(m', S') in d = 2 (off-centre, anisotropic, correlated): every conditional is
a 1-D Gaussian, so each per-prefix KL is closed-form and each average is a 1-D integral that
scipy's quad computes independently of the grid. The law is given to the endpoints both as a
joint density (DDPM form: conditional = density / marginal) and with its stage rows (AR-DM form).
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from verify.exact import GridLaw, conditional_endpoints

TARGET = (np.array([0.4, -0.3]), np.array([[1.1, 0.7], [0.7, 0.9]]))
MODEL = (np.array([0.55, -0.1]), np.array([[0.9, 0.45], [0.45, 1.2]]))
BOX, NODES = 9.0, 401


def conditional(law, a):
    """Mean and variance of x2 | x1 = a, and the marginal (mean, variance) of x1."""
    m, s = law
    return m[1] + s[0, 1] / s[0, 0] * (a - m[0]), s[1, 1] - s[0, 1] ** 2 / s[0, 0], (m[0], s[0, 0])


def kl_normal(m0, v0, m1, v1):
    return 0.5 * (v0 / v1 + (m1 - m0) ** 2 / v1 - 1 + math.log(v1 / v0))


def kl_forward(a):
    mq, vq, _ = conditional(TARGET, a)
    mp, vp, _ = conditional(MODEL, a)
    return kl_normal(mq, vq, mp, vp)


def kl_reverse(a):
    mq, vq, _ = conditional(TARGET, a)
    mp, vp, _ = conditional(MODEL, a)
    return kl_normal(mp, vp, mq, vq)


def prefix_pdf(law, a):
    _, _, (m, v) = conditional(law, a)
    return stats.norm.pdf(a, m, math.sqrt(v))


def log_density(law):
    m, s = law
    dist = stats.multivariate_normal(m, s)
    return lambda x: torch.as_tensor(dist.logpdf(x.numpy()), dtype=torch.float64).reshape(-1)


def log_prefix(law):
    _, _, (m, v) = conditional(law, 0.0)
    return lambda x1: torch.as_tensor(
        stats.norm.logpdf(x1.numpy()[:, 0], m, math.sqrt(v)), dtype=torch.float64
    )


def grid_law(stages: bool) -> GridLaw:
    axis = torch.linspace(-BOX, BOX, NODES, dtype=torch.float64)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    density = log_density(MODEL)(torch.stack([a.reshape(-1), b.reshape(-1)], 1)).exp().reshape(NODES, NODES)
    if not stages:
        return GridLaw((axis, axis), density, 0.0)
    rows = density / torch.as_tensor(prefix_pdf(MODEL, axis.numpy()))[:, None]
    return GridLaw((axis, axis), density, 0.0, stage_density=rows, stage_mass_lost=torch.zeros(NODES))


def quad_average(kl, weight_law):
    value, _ = integrate.quad(lambda a: prefix_pdf(weight_law, a) * kl(a), -BOX, BOX, limit=200)
    return value


@pytest.fixture(scope="module", params=[False, True], ids=["joint-law", "stage-rows"])
def endpoints(request):
    return conditional_endpoints(grid_law(request.param), log_density(TARGET), log_prefix(TARGET))


def test_averages_under_either_prefix_law_match_quadrature(endpoints):
    assert endpoints.average_kl == pytest.approx(quad_average(kl_forward, TARGET), rel=1e-6)
    assert endpoints.average_reverse_kl == pytest.approx(quad_average(kl_reverse, TARGET), rel=1e-6)
    assert endpoints.model_prefix_kl == pytest.approx(quad_average(kl_forward, MODEL), rel=1e-6)
    assert endpoints.model_prefix_reverse_kl == pytest.approx(quad_average(kl_reverse, MODEL), rel=1e-6)


def test_joint_kl_matches_the_gaussian_closed_form(endpoints):
    (m0, s0), (m1, s1) = TARGET, MODEL
    inv = np.linalg.inv(s1)
    closed = 0.5 * (
        np.trace(inv @ s0) + (m1 - m0) @ inv @ (m1 - m0) - 2 + math.log(np.linalg.det(s1) / np.linalg.det(s0))
    )
    assert endpoints.joint_kl == pytest.approx(closed, rel=1e-6)


def test_chain_rule_caps_the_true_prefix_average_only(endpoints):
    prefix_kl = integrate.quad(
        lambda a: prefix_pdf(TARGET, a) * (math.log(prefix_pdf(TARGET, a)) - math.log(prefix_pdf(MODEL, a))),
        -BOX,
        BOX,
    )[0]
    assert endpoints.joint_kl == pytest.approx(prefix_kl + endpoints.average_kl, rel=1e-6)


def test_worst_case_and_bins_follow_the_closed_form_per_prefix(endpoints):
    axis = endpoints.curves.prefix.numpy()
    forward = np.array([kl_forward(a) for a in axis])
    resolved = endpoints.resolved.numpy()
    expected_resolved = (prefix_pdf(TARGET, axis) >= endpoints.floor) & (
        prefix_pdf(MODEL, axis) >= endpoints.floor
    )
    np.testing.assert_array_equal(resolved, expected_resolved)
    np.testing.assert_allclose(endpoints.curves.kl.numpy()[resolved], forward[resolved], rtol=1e-6)
    assert endpoints.worst_kl == pytest.approx(forward[resolved].max(), rel=1e-6)
    q = prefix_pdf(TARGET, axis)
    cuts = (endpoints.floor, *endpoints.edges, np.inf)
    for i, value in enumerate(endpoints.binned_kl):
        inside = resolved & (q >= cuts[i]) & (q < cuts[i + 1])
        assert value == pytest.approx(np.average(forward[inside], weights=q[inside]), rel=1e-6)
        assert value <= endpoints.worst_kl


def test_bad_floor_and_edges_name_the_parameter():
    law = grid_law(False)
    with pytest.raises(ValueError, match="floor"):
        conditional_endpoints(law, log_density(TARGET), log_prefix(TARGET), floor=0.0)
    with pytest.raises(ValueError, match="edges"):
        conditional_endpoints(law, log_density(TARGET), log_prefix(TARGET), edges=(1e-2, 1e-3))
