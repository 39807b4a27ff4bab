"""The network: SimpleCNN's layers, the shape of the data after each one, and its parameters."""

import pandas as pd
import streamlit as st

from explorer import render
from explorer.architecture import layer_table, parameter_arithmetic, parameter_totals
from explorer.network_view import flow_html
from explorer.ui import network as net
from explorer.ui import path, widgets

SECTIONS = {
    "table": "Layer by layer",
    "parameters": "Where the parameters are",
    "print": "The model, as PyTorch prints it",
    "dropout": "What dropout does",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "network",
    "The network",
    "**SimpleCNN** is a small convolutional network for 32×32 colour images. Three "
    "*convolution blocks* (convolution → ReLU → 2×2 max-pool) turn the image into 128 small "
    "maps of features, and a *classifier head* of two fully connected layers turns those into "
    "one score per class. Everything below is read from the running model itself.",
    SECTIONS,
)
model = ctx.model
rows = layer_table(model)

st.subheader("How the data flows")
if show.on:  # a projector: the blocks side by side, the whole network on the first screen
    st.html(flow_html(rows))
    key = st.container()
else:
    diagram, key = st.columns([2, 3], gap="large")
    diagram.graphviz_chart(render.layer_chain_dot(rows))
key.markdown(
    """
One image enters as **3 colour channels of 32×32 pixels**; each box shows the shape of the
data after that step (channels × height × width, or a plain count once flattened).

- **conv** (orange): 3×3 filters with padding 1 keep the size and set the number of channels
  — 32, then 64, then 128 different patterns looked for.
- **relu** (blue): negative numbers become 0; the shape does not change.
- **pool** (green): 2×2 max-pooling halves the width and the height: 32 → 16 → 8 → 4.
- **flatten**: the 128 maps of 4×4 become one list of 128·4·4 = 2,048 numbers.
- **fc** (purple): fully connected layers, 2,048 → 512 → one score per class.
- **dropout**: only active while training (see below).
"""
)

total, trainable = parameter_totals(model)
if show.shows("table"):
    st.subheader("Layer by layer")
    table = pd.DataFrame(
        {
            "name": r.name,
            "layer": r.layer,
            "output shape": " × ".join(str(d) for d in r.output_shape),
            "weight shape": " × ".join(map(str, r.weight_shape)) if r.weight_shape else "—",
            "bias shape": " × ".join(map(str, r.bias_shape)) if r.bias_shape else "—",
            "parameters": r.params,
            "trainable": r.trainable,
        }
        for r in rows
    )
    # A static table: every column is shown whole at any width (it scrolls sideways on a
    # phone) instead of an interactive grid that clips its columns at 1280 px.
    st.table(
        table.assign(
            parameters=table["parameters"].map("{:,}".format),
            trainable=table["trainable"].map("{:,}".format),
        ).set_index("name")
    )
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters in all", f"{total:,}")
    c2.metric("Trainable", f"{trainable:,}")
    c3.metric("Memory as float32", f"{total * 4 / 1e6:.1f} MB")
    st.caption(
        "Output shapes are for a batch of one image (the leading 1). ReLU, pooling, flatten and "
        "dropout have no parameters: they only reshape or filter the numbers."
    )

if show.shows("parameters"):
    st.subheader("Where the parameters are")
    st.markdown(
        "A convolution with *out* filters of size *k×k* over *in* channels has "
        "**out·in·k·k weights + out biases**; a fully connected layer from *in* to *out* numbers "
        "has **out·in weights + out biases**."
    )
    arithmetic = parameter_arithmetic(model)
    st.markdown("\n".join(f"- **{name}:** {formula}" for name, formula, _ in arithmetic))
    share = max(arithmetic, key=lambda item: item[2])
    st.markdown(
        f"Sum: **{sum(n for *_, n in arithmetic):,}** = the total above. "
        f"**{share[0]}** alone holds {share[2] / total:.0%} of all parameters: connecting every "
        "one of 2,048 numbers to every one of 512 units is expensive, while a convolution reuses "
        "its small filter at every position."
    )

if show.shows("print"):
    st.subheader("The model, as PyTorch prints it")
    st.code(repr(model), language="text")

if show.shows("dropout"):
    st.subheader("What dropout does")
    st.markdown(
        "During **training**, dropout sets a random half of fc1's 512 outputs to zero at every "
        "step (and doubles the rest, so their sum stays the same on average). The network cannot "
        "rely on any single unit, so it learns several ways to recognise each class — it "
        "generalises better. At **inference** dropout is switched off: the app runs the network "
        "in evaluation mode, so the same image always gives the same answer."
    )
    st.code(
        f"model.training = {model.training}   # False: evaluation mode, dropout is off",
        language="python",
    )

net.keep_address({**net.NET.get().to_query("session"), **show.query()})
net.link_note(net.NET.get())
path.page_end(__file__)
widgets.presenter_controls("network", SECTIONS, show)
