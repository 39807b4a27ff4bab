"""The network pages' set-up as a link: which built-in weights, which gallery image, which map
is enlarged and how the maps are coloured. Streamlit-free; the pages keep their address in
step with it, so the address is the share link.

    values, warnings = network_from_query({"w": "simplecnn-mnist", "layer": "conv2"}, ...)
    network_to_query(values)   # {"w": "simplecnn-mnist", "layer": "conv2"}

A link is typed, pasted and edited by people (and may be hostile): every value is checked
against its closed set of choices, anything else keeps its default and gets a sentence saying
which value was ignored (quote-safe: show it as literal text). An upload or a drawing cannot
travel in a link; the pages say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from explorer.features import SPATIAL_STAGES
from explorer.network_view import SCALES

#: Session key → link parameter. The session keys are the network pages' widget keys.
PARAMS: dict[str, str] = {
    "net_weights": "w",
    "fm_gallery": "img",
    "fm_layer": "layer",
    "fm_map": "map",
    "fm_scale": "scale",
}
MAX_MAPS = 128  # conv3 has the most maps
_MAX_CHARS = 100


def _shown(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:30] + "…")


def network_from_query(
    params: Mapping[str, object],
    weights_keys: Sequence[str],
    gallery_keys: Sequence[str],
) -> tuple[dict[str, Any], list[str]]:
    """The set-up a link asks for (session key → value; only what the link sets and is valid),
    and one sentence per value ignored. ``weights_keys``: the built-in weights; the gallery
    keys of every dataset (the image is checked against the chosen weights' gallery later)."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    choices: dict[str, Sequence[str]] = {
        "net_weights": weights_keys,
        "fm_gallery": gallery_keys,
        "fm_layer": SPATIAL_STAGES,
        "fm_scale": tuple(SCALES),
    }
    for key, param in PARAMS.items():
        raw = params.get(param)
        if raw is None:
            continue
        if not isinstance(raw, str) or len(raw) > _MAX_CHARS:
            warnings.append(f"Ignored the link's {param}: it is not a short text.")
            continue
        text = raw.strip()
        if key == "fm_map":
            if text.isascii() and text.isdigit() and int(text) < MAX_MAPS:
                values[key] = int(text)
            else:
                warnings.append(
                    f"Ignored the link's map={_shown(text)}: it must be a map number from 0 "
                    f"to {MAX_MAPS - 1}."
                )
        elif text in choices[key]:
            values[key] = text
        else:
            what = {"net_weights": "built-in weights", "fm_gallery": "gallery image",
                    "fm_layer": "layer", "fm_scale": "colour scale"}[key]  # fmt: skip
            warnings.append(f"Ignored the link's {param}={_shown(text)}: it is not a {what}.")
    return values, warnings


def network_to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The set-up (session key → value) as link parameters; None values are left out."""
    return {param: str(values[key]) for key, param in PARAMS.items() if values.get(key) is not None}
