"""verify.hierarchy, the machinery both bound-hierarchy sweeps share: grids by name, Richardson
extrapolation of an exactly quadratic error, the perturbation fields, the link checks and their
margins, the cells; and the layering it exists for (no hierarchy experiment imports another)."""

import ast
import math
from pathlib import Path

import pytest
import torch

from bounds.hierarchy import LINKS
from verify import grids, hierarchy
from verify.experiments import bound_hierarchy_ar, bound_hierarchy_ddpm
from verify.records import MARGIN_SE

ROW = {
    "gap": 0.1,
    "gap_err": 0.01,
    "chain_path_kl": 1.0,
    "chain_path_kl_se": 0.05,
    "girsanov": 1.2,
    "girsanov_se": 0.02,
    "girsanov_quad": 0.003,
    "split": 2.5,
}


@pytest.mark.parametrize("kind", ["exponential_linear", "uniform"])
def test_grid_by_name_is_the_named_grid(kind):
    assert torch.equal(grids.by_name(kind, 3.0, 16, 0.02), getattr(grids, kind)(3.0, 16, 0.02))


def test_richardson_removes_an_exactly_quadratic_error():
    exact, c, dxs = 0.7, 3.0, (0.2, 0.1)
    value, err = hierarchy.richardson_pair([exact + c * dx**2 for dx in dxs], dxs)
    assert value == pytest.approx(exact, abs=1e-14)
    assert err == pytest.approx(c * dxs[1] ** 2, rel=1e-12)  # |extrapolated - finest|


@pytest.mark.parametrize("dim", [1, 2, 7])
def test_sign_vector_has_the_requested_norm_and_alternates(dim):
    b = hierarchy.sign_vector(dim, 0.3)
    assert b.dtype == torch.float64 and torch.linalg.norm(b).item() == pytest.approx(0.3, rel=1e-15)
    assert torch.all(b[:-1] * b[1:] < 0)


def test_quarter_turn_is_a_rotation_and_not_a_gradient():
    rot = hierarchy.quarter_turn()
    assert torch.equal(rot @ rot.T, torch.eye(2, dtype=torch.float64))
    assert torch.equal(rot.T, -rot)  # antisymmetric Jacobian: R (x - mu) has no potential


def test_ordered_levels_pass_every_link_with_the_stated_margins():
    checks = hierarchy.hierarchy_checks("x", ROW)
    assert [c["name"] for c in checks] == [f"x: {link.lhs} <= {link.rhs}" for link in LINKS]
    assert all(c["holds"] for c in checks)
    margins = [c["margin"] for c in checks]
    assert margins[0] == pytest.approx(MARGIN_SE * 0.05 + 0.01)
    assert margins[1] == pytest.approx(MARGIN_SE * math.hypot(0.05, 0.02) + 0.003)
    assert margins[2] == 0.0  # Girsanov <= split holds draw by draw


def test_a_broken_link_fails_and_an_unavailable_gap_is_skipped():
    broken = hierarchy.hierarchy_checks("x", {**ROW, "split": 1.1})
    assert [c["holds"] for c in broken] == [True, True, False]
    unavailable = hierarchy.hierarchy_checks("x", {**ROW, "gap": math.nan, "gap_err": math.nan})
    assert [c["name"] for c in unavailable] == ["x: chain_path_kl <= girsanov", "x: girsanov <= split"]


def test_cells_name_each_setting_and_seed_it_apart():
    config = bound_hierarchy_ar.PROFILES["quick"]
    cells = hierarchy.sweep_cells("name", config, seed=2)
    assert [c.key for c in cells] == [f"{t}-{s}" for t, s in config.settings]
    assert [c.params.seed for c in cells] == [2000 + i for i in range(len(config.settings))]


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"settings": ()}, "settings"),
        ({"steps": (8, 8)}, "steps"),
        ({"box": -1.0}, "box"),
        ({"draws": 1}, "draws"),
    ],
)
def test_bad_input_names_the_parameter(bad, field):
    kwargs = {"settings": (("chain", "exact"),), "steps": (4, 8), **bad}
    with pytest.raises(ValueError, match=f"^{field}:"):
        bound_hierarchy_ar.Config(**kwargs)


@pytest.mark.parametrize("module", [bound_hierarchy_ddpm, bound_hierarchy_ar])
def test_hierarchy_experiments_import_no_other_experiment(module):
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("verify.experiments.")}, imported
