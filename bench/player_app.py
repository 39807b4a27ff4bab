"""A throwaway page that mounts only the convolution player, for the browser tests and the bench.

    streamlit run bench/player_app.py          # 64×64 image, 3×3 Sobel kernel, no padding
    …/?size=8&padding=1&kernel=blur&stride=2&dilation=2&mode=reflect

The image is a seeded diagonal ramp plus noise with two-decimal values in [0, 1]: readable
numbers, and products with more decimals than that, so the formatting is exercised. Tests
import ``trace_for`` to compute the very trace the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from explorer.convolution import ConvSettings, WindowTrace, window_trace

KERNELS = {
    "sobel": np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
    "blur": np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16,
}


def sample_image(size: int) -> np.ndarray:
    """size×size values in [0, 1] with two decimals: a diagonal ramp with seeded noise."""
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(size), np.arange(size)) / max(1, 2 * size - 2)
    return np.round(np.clip(ramp + rng.normal(0, 0.15, (size, size)), 0, 1), 2)


def trace_for(params: Mapping[str, str]) -> WindowTrace:
    """The trace the page shows for these query parameters (all optional)."""
    settings = ConvSettings(
        padding=int(params.get("padding", 0)),
        padding_mode=params.get("mode", "zeros"),
        stride=int(params.get("stride", 1)),
        dilation=int(params.get("dilation", 1)),
    )
    size = int(params.get("size", 64))
    return window_trace(sample_image(size), KERNELS[params.get("kernel", "sobel")], settings)


if __name__ == "__main__":  # `streamlit run` runs scripts as __main__; imports skip the page
    import streamlit as st

    from explorer.ui import conv_player, guarded

    st.set_page_config(page_title="Player test page", layout="wide")
    trace = trace_for(st.query_params.to_dict())
    position = guarded(lambda: conv_player(trace, key="bench_player"))
    st.write(f"reported position: {position}")
