"""figures.style: the provenance stamp (profile, seed, device, code; the quick profile marked a smoke
test), drawn once and below everything, also in the tightly cropped saved image; print widths; one
shared legend with a column per group."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from figures import style  # noqa: E402

RECORD = {"profile": "quick", "seeds": {"root": 7}, "versions": {"device": "cpu", "code": "abc123"}}


def test_provenance_names_profile_seed_device_and_code():
    assert (
        style.provenance(RECORD)
        == "profile quick (smoke test, not evidence) · seed 7 · device cpu · code abc123"
    )
    default = {**RECORD, "profile": "default", "versions": {"device": "cuda"}}
    assert style.provenance(default) == "profile default · seed 7 · device cuda · code unknown"


def test_stamp_is_written_once():
    fig, (ax,) = style.panels(1, 1, height=1.5)
    ax.plot([1, 2], [1, 2])
    style.stamp(fig, RECORD)
    style.stamp(fig, RECORD)
    assert [t.get_text() for t in fig.texts] == [style.provenance(RECORD)]
    plt.close(fig)


def _rows(image, mask) -> np.ndarray:
    return np.flatnonzero(mask(image[:, :, :3]).any(axis=1))


def test_stamp_lies_below_a_shared_legend_in_the_cropped_image():
    """The regression: a tight crop used to move a figure legend down onto the stamp."""
    with plt.rc_context(style.RC):
        fig, axes = style.panels(1, 2, height=1.5)
        for ax in axes:
            ax.plot([1, 2], [1, 2], color="k")
        groups = [[Line2D([], [], color="k", label=f"entry {i}{j}") for j in range(3)] for i in range(2)]
        style.shared_legend(fig, *groups)
        style.stamp(fig, RECORD)  # quick profile: vermillion text
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight", dpi=100)
        plt.close(fig)
    image = plt.imread(io.BytesIO(buffer.getvalue()))
    black = _rows(image, lambda rgb: rgb.sum(axis=2) < 0.5)
    red = _rows(image, lambda rgb: (rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.5) & (rgb[..., 2] < 0.2))
    assert red.size and black.size and black.max() < red.min()


def test_shared_legend_gives_each_group_a_column():
    fig, _ = style.panels(1, 1, height=1.5)
    a = [Line2D([], [], label=f"a{i}") for i in range(3)]
    b = [Line2D([], [], label="b0")]
    texts = style.shared_legend(fig, a, b).get_texts()
    assert [t.get_text() for t in texts] == ["a0", "a1", "a2", "b0", " ", " "]
    fig.canvas.draw()
    a0, b0 = (t.get_window_extent() for t in (texts[0], texts[3]))
    assert a0.y0 == pytest.approx(b0.y0) and a0.x1 < b0.x0  # side by side: one column per group
    plt.close(fig)


def test_panels_fill_the_print_width():
    fig, axes = style.panels(2, 3, height=1.5, extra=0.5)
    assert len(axes) == 6 and tuple(fig.get_size_inches()) == pytest.approx((style.FULL_WIDTH, 3.5))
    plt.close(fig)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="^width:"):
        style.panels(1, 1, height=1.0, width=9.0)
