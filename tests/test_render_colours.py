"""The colour maps stay readable for colour-blind students (about 1 boy in 12 has a red–green
colour vision deficiency).

Method: each colour is passed through the simulation of Machado, Oliveira & Fernandes,
"A Physiologically-based Model for Simulation of Color Vision Deficiency", IEEE TVCG 15(6),
2009 — their matrices for protanopia and deuteranopia at severity 1.0, applied to linear sRGB
(the same simulation as Chrome's and Firefox's DevTools) — and the simulated colours are
compared in CIELAB (D65 white, CIE 15:2004) by their Euclidean distance, ΔE*ab (CIE 1976).
ΔE ≈ 2 is a just-noticeable difference; the thresholds below ask for far more than that.
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer import render

# Machado et al. (2009), Table 1, severity 1.0. Rows give the simulated linear R, G, B.
MACHADO_2009 = {
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
}
VISIONS = ["normal", *MACHADO_2009]

# linear sRGB → XYZ (IEC 61966-2-1), and the D65 white point.
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
D65 = np.array([0.95047, 1.0, 1.08883])

# What "distinguishable" means here (ΔE*ab under the simulation). A blue–white–red map passes
# with room to spare (ends ≥ 35, ±¼ of the range ≥ 25); a green–white–red one, the usual
# mistake, fails by far (ends ≈ 2–14 for deuteranopes and protanopes): see the last test.
ENDS_APART = 30.0  # the most negative and the most positive colour
END_FROM_MIDDLE = 60.0  # each end and the middle (zero)
SYMMETRIC_APART = 20.0  # −v and +v, for every |v| from a quarter of the range to its end


def seen_as_lab(rgb: np.ndarray, vision: str) -> np.ndarray:
    """N×3 uint8 sRGB → N×3 CIELAB as a person with ``vision`` sees it."""
    c = np.asarray(rgb, np.float64).reshape(-1, 3) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if vision != "normal":
        linear = np.clip(linear @ MACHADO_2009[vision].T, 0.0, 1.0)
    t = (linear @ SRGB_TO_XYZ.T) / D65
    d = 6 / 29
    f = np.where(t > d**3, np.cbrt(t), t / (3 * d * d) + 4 / 29)
    return np.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1
    )


def delta_e(a: np.ndarray, b: np.ndarray, vision: str) -> np.ndarray:
    return np.linalg.norm(seen_as_lab(a, vision) - seen_as_lab(b, vision), axis=1)


def diverging_failures(lut: np.ndarray, vision: str) -> list[str]:
    """What makes the 256-colour diverging map ``lut`` unreadable for ``vision`` (none: [])."""
    failures = []
    low, middle, high = lut[:1], lut[len(lut) // 2 : len(lut) // 2 + 1], lut[-1:]
    ends = float(delta_e(low, high, vision)[0])
    if ends < ENDS_APART:
        failures.append(f"ends ΔE {ends:.1f} < {ENDS_APART}")
    for name, end in (("low", low), ("high", high)):
        apart = float(delta_e(end, middle, vision)[0])
        if apart < END_FROM_MIDDLE:
            failures.append(f"{name} end from the middle ΔE {apart:.1f} < {END_FROM_MIDDLE}")
    n = len(lut)
    i = np.arange(n // 2)
    i = i[(n - 1 - 2 * i) / (n - 1) >= 0.25]  # lut[i] and lut[n-1-i] are −v and +v, v ≥ ¼
    pairs = delta_e(lut[i], lut[n - 1 - i], vision)
    if pairs.min() < SYMMETRIC_APART:
        failures.append(f"−v and +v as close as ΔE {pairs.min():.1f} < {SYMMETRIC_APART}")
    return failures


@pytest.mark.parametrize("vision", VISIONS)
def test_diverging_map_reads_for_colour_blind_students(vision: str) -> None:
    lut = render.colourise(np.linspace(-1.0, 1.0, 256)[None, :], "diverging")[0]
    assert diverging_failures(lut, vision) == []


def test_the_interactive_heatmap_uses_the_same_diverging_colours() -> None:
    fig = render.heatmap_figure(np.array([[-1.0, 0.0, 1.0]]), "diverging")
    stops = [tuple(int(v) for v in colour[4:-1].split(",")) for _, colour in fig.data[0].colorscale]
    assert stops == render.COLOUR_ANCHORS["diverging"]


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize("cmap", ["viridis", "gray"])
def test_sequential_maps_get_lighter_all_the_way_for_every_vision(cmap: str, vision: str) -> None:
    """Viridis and gray read by lightness alone, which no colour vision deficiency takes away:
    L* rises along the map (8-bit rounding wobbles it by < 0.1 between neighbours, far below
    the ≈ 1 a person notices; every 16th colour is strictly lighter) and spans most of
    black-to-white."""
    lut = render.colourise(np.linspace(0.0, 1.0, 256)[None, :], cmap)[0]
    lightness = seen_as_lab(lut, vision)[:, 0]
    assert np.diff(lightness).min() > -0.1
    assert (np.diff(lightness[::16]) > 1.0).all()
    assert lightness[-1] - lightness[0] > 60


@pytest.mark.parametrize("vision", list(MACHADO_2009))
def test_a_red_green_map_would_fail(vision: str) -> None:
    """The check can fail: green–white–red, readable with normal colour vision, is not."""
    anchors = np.array([(0, 110, 0), (247, 247, 247), (200, 0, 0)], np.float64)
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, [0.0, 0.5, 1.0], anchors[:, c]) for c in range(3)], axis=1)
    lut = np.round(lut).astype(np.uint8)
    assert diverging_failures(lut, "normal") == []
    assert diverging_failures(lut, vision) != []
