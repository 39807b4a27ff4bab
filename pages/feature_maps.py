"""Feature maps: give the network an image and see what every layer makes of it."""

import streamlit as st

from explorer import render, ui
from explorer.features import conv1_filters_picture, predictions, preprocess

ui.use_app_navigation()
ui.page_header(
    "Feature maps",
    "Choose an image and follow it through the network. Every convolution filter produces one "
    "**feature map**: a picture of where in the image the filter found its pattern. All the "
    "numbers are computed live, in one pass through the network.",
)
ctx = ui.network_sidebar()
if ctx is None:
    st.stop()

left, right = st.columns([2, 3], gap="large")
with left:
    inp = ui.network_input(ctx)
if inp is None:
    st.stop()
acts = ui.capture_for(ctx, inp)
ranked = predictions(acts.probabilities, ctx.classes)
with right:
    answer = ranked[0][0]
    verdict = ""
    if inp.true_label is not None:
        verdict = (
            " — correct"
            if answer == inp.true_label
            else f" — wrong, the true label is **{inp.true_label}**"
        )
    st.markdown(f"#### The network says: **{answer}** ({ranked[0][1]:.1%}){verdict}")
    st.plotly_chart(
        ui.class_bars(ranked, answer, "Probability of each class (softmax)", ".1%"),
        width="stretch",
        key="fm_probs",
    )
    st.caption(
        f"Input: {inp.description}. Forward pass: **{acts.forward_ms:.2f} ms** on "
        f"**{ctx.device.name if acts.device == ctx.device.device else 'CPU'}**. The network runs "
        "in evaluation mode (`model.eval()`): dropout is off, so the same image always gets the "
        "same answer."
    )
    if acts.fallback_reason:
        st.warning(f"The GPU failed ({acts.fallback_reason}); this ran on the CPU instead.")

st.subheader("What the model sees")
x = preprocess(inp.image, ctx.preprocessing)[0].numpy()  # 3×32×32 normalised
cols = st.columns(4)
cols[0].image(
    render.enlarge(inp.image, 5), caption="The 32×32 input, enlarged", output_format="PNG"
)
for col, name, channel, mean, std in zip(
    cols[1:], "RGB", x, ctx.preprocessing.mean, ctx.preprocessing.std, strict=True
):
    col.image(
        render.enlarge(inp.image[:, :, "RGB".index(name)], 5),
        caption=f"{name} channel",
        output_format="PNG",
    )
    col.caption(
        f"(pixel/255 − {mean:.4g}) / {std:.4g} → from **{channel.min():.3f}** to "
        f"**{channel.max():.3f}**"
    )
st.caption(
    "The network does not see 0–255: each channel is scaled to 0–1, then the training set's "
    "mean is subtracted and the result divided by its standard deviation, so the numbers are "
    "centred on 0."
)

st.subheader("Every stage, every map")
scale = st.radio(
    "Colours",
    ["Shared by the layer", "Each map on its own"],
    key="fm_scale",
    horizontal=True,
    help="Shared: the same colour means the same number in every map of a layer, so strong and "
    "weak maps can be compared. Each map on its own: every map uses its full colour range, "
    "which shows the shape of weak maps too.",
)
per_map = scale != ui.NET_DEFAULTS["fm_scale"]
st.caption(
    "Blue–white–red for values that can be negative (white = 0); dark-to-yellow for ReLU and "
    "pooling outputs, which are never negative. Maps are numbered from 0, left to right, "
    "8 (or 16) a row."
)
pictures = ui.stage_pictures(ctx.weights_id, acts.device, ui.image_key(inp.image), per_map, acts)
for block in ("1", "2", "3"):
    for col, name in zip(st.columns(3), ("conv", "relu", "pool"), strict=True):
        with col:
            ui.show_stage(name + block, acts, pictures, per_map)
st.markdown("##### The classifier head")
for col, name in zip(st.columns(3), ("flatten", "fc1", "relu4"), strict=True):
    with col:
        ui.show_stage(name, acts, pictures, per_map)
logits = [(c, float(v)) for c, v in zip(ctx.classes, acts.logits, strict=True)]
st.plotly_chart(
    ui.class_bars(logits, answer, "fc2: the 10 scores (logits), before softmax", ".3g"),
    width="stretch",
    key="fm_logits",
)

st.subheader("One map up close")
ui.show_map_detail(ctx, acts)

st.subheader("conv1's 32 filters")
st.image(render.png_bytes(conv1_filters_picture(ctx.cpu_model)), output_format="PNG")
st.caption(
    "Filter 0 is top left, 16 a row. Each 3×3 filter drawn as colours: for each channel, "
    "grey = weight 0, brighter = positive, darker = negative (each filter scaled by its own "
    "largest weight). A reddish patch responds to red, a patch with a light and a dark side to "
    "an edge."
)
st.markdown("**Use a filter in the convolution playground**")
ui.playground_sender(ctx)
