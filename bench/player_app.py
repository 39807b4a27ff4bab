"""A throwaway page that mounts only the convolution player, for the browser tests and the bench.

    streamlit run bench/player_app.py          # 64×64 image, 3×3 Sobel kernel, no padding
    …/?size=8&padding=1&kernel=blur&stride=2&dilation=2&mode=reflect
    …/?size=6&kernel=frac&padding=1&stride=2   # fractional weights
    …/?size=20&ksize=7&padding=3               # a seeded n×n kernel with two-decimal weights
    …/?presenter=1                             # the projector layout
    …/?hooks=0                                 # without window.__playerTest (as the real page)

The image is a seeded diagonal ramp plus noise with two-decimal values in [0, 1] (``image=int``:
whole numbers 0…255): readable numbers, and products with more decimals than that, so the
formatting is exercised. Under the player: a button that reruns without changing the trace, one
that changes it (another kernel, two pixels larger), and a toggle that unmounts and remounts the
player. Tests import ``trace_for`` to compute the very trace the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from explorer.convolution import ConvSettings, WindowTrace, window_trace

KERNELS = {
    "sobel": np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
    "blur": np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16,
    "frac": np.array([[0.25, -0.5, 1.0], [0.0, 1.5, -1.25], [0.75, -0.125, 0.5]]),
}


def sample_image(size: int, kind: str = "ramp") -> np.ndarray:
    """size×size values: in [0, 1] with two decimals (a diagonal ramp with seeded noise), or
    ``kind="int"`` the same picture as whole numbers 0…255."""
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(size), np.arange(size)) / max(1, 2 * size - 2)
    image = np.round(np.clip(ramp + rng.normal(0, 0.15, (size, size)), 0, 1), 2)
    return np.round(image * 255) if kind == "int" else image


def sample_kernel(size: int) -> np.ndarray:
    """A seeded size×size kernel with two-decimal weights of both signs."""
    return np.round(np.random.default_rng(size).uniform(-1, 1, (size, size)), 2)


def trace_for(params: Mapping[str, str]) -> WindowTrace:
    """The trace the page shows for these query parameters (all optional)."""
    settings = ConvSettings(
        padding=int(params.get("padding", 0)),
        padding_mode=params.get("mode", "zeros"),
        stride=int(params.get("stride", 1)),
        dilation=int(params.get("dilation", 1)),
    )
    size = int(params.get("size", 64))
    if "ksize" in params:
        kernel = sample_kernel(int(params["ksize"]))
    else:
        kernel = KERNELS[params.get("kernel", "sobel")]
    return window_trace(sample_image(size, params.get("image", "ramp")), kernel, settings)


def changed(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters after "Change the trace": another kernel, and an image 2 pixels larger
    (so the window count, and with it the default pace, changes too)."""
    other = "blur" if params.get("kernel", "sobel") != "blur" else "sobel"
    rest = {k: v for k, v in params.items() if k != "ksize"}
    return {**rest, "kernel": other, "size": str(int(params.get("size", 64)) + 2)}


if __name__ == "__main__":  # `streamlit run` runs scripts as __main__; imports skip the page
    import streamlit as st

    from explorer.ui.player import conv_player, conv_player_score
    from explorer.ui.widgets import guarded

    st.set_page_config(page_title="Player test page", layout="wide")
    params = st.query_params.to_dict()
    if st.session_state.get("bench_changes", 0) % 2:
        params = changed(params)
    trace = trace_for(params)
    slot = st.container()  # the player comes first on the page, as on the playground
    show = st.toggle("Show the player", value=True, key="bench_show")
    if show:
        with slot:
            position = guarded(
                lambda: conv_player(
                    trace,
                    key="bench_player",
                    presenter=params.get("presenter") == "1",
                    test_hooks=params.get("hooks", "1") == "1",
                    start=int(params["start"]) if "start" in params else None,
                )
            )
        st.write(f"reported position: {position}")
    right, asked = conv_player_score("bench_player")
    st.write(f"score: {right} of {asked}")
    st.button("Rerun, same trace", key="bench_rerun")
    if st.button("Change the trace", key="bench_change"):
        st.session_state.bench_changes = st.session_state.get("bench_changes", 0) + 1
        st.rerun()
