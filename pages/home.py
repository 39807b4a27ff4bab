"""Home: what a CNN is, in a few plain sentences, and where to go next."""

import streamlit as st

from explorer.ui import widgets

widgets.use_app_navigation()

st.title("CNN Explorer")
st.markdown(
    "Learn how a **convolutional neural network** (CNN) sees, by playing with one. "
    "Every number on these pages is computed live by the app — nothing is a picture from a book."
)

st.subheader("What is a CNN?")
st.markdown(
    """
A CNN is a neural network built for images. It is a stack of three kinds of layers:

- **Convolution layers** slide small grids of numbers — *filters* or *kernels* — over the image.
  At every position the filter multiplies the pixels under it by its own numbers and adds the
  products up. A filter can detect an edge, a colour or a texture; the network **learns** its
  filters from examples instead of having them designed by hand.
- **Pooling layers** shrink the result, keeping the strongest response in each small block
  (for example the largest of every 2×2). The picture gets smaller, the important signals stay.
- A **fully connected head** at the end looks at everything the filters found and turns it into
  a score for each class — "cat", "ship", "7" — from which the network picks its answer.
"""
)

st.subheader("Why does it work so well for images?")
st.markdown(
    """
- **Shared parameters.** The same small filter is used at every position, so a 3×3 filter has
  only 9 weights however large the image is — far fewer than connecting every pixel to everything.
- **Translation invariance.** An edge is detected wherever it is in the picture, and pooling
  makes the answer barely change when the object moves a little.
- **A hierarchy of features.** Early layers find edges and colours; later layers combine them
  into textures, parts and whole objects.
"""
)

st.subheader("Where to go next")
NEXT = [  # (page, title, what it shows, link label, icon)
    (
        "pages/convolution.py",
        "Convolution playground",
        "Draw or upload an image, pick a kernel and watch the convolution slide window by "
        "window: the patch, the products, the sum, the output filling in.",
        "Open the playground",
        ":material/grid_on:",
    ),
    (
        "pages/network.py",
        "The network",
        "SimpleCNN layer by layer: the shape of the data as it flows through, and where the "
        "network keeps its parameters.",
        "See the architecture",
        ":material/account_tree:",
    ),
    (
        "pages/feature_maps.py",
        "Feature maps",
        "Give the trained network an image and see what every layer makes of it: each feature "
        "map, the learned filters and the class probabilities.",
        "Look inside",
        ":material/layers:",
    ),
    (
        "pages/inside.py",
        "Inside the network",
        "Pick any number the network computed and see the arithmetic that made it, the pixels "
        "that can reach it, and where the network looked for its answer.",
        "Follow one number",
        ":material/calculate:",
    ),
    (
        "pages/train.py",
        "Train it yourself",
        "Press Start and watch the network learn: its mistakes fall, its filters change, and "
        "then it is yours to look inside.",
        "Train a network",
        ":material/model_training:",
    ),
]
for column, (page, title, text, label, icon) in zip(st.columns(len(NEXT)), NEXT, strict=True):
    with column:
        st.markdown(f"#### {title}")
        st.markdown(text)
        st.page_link(page, label=label, icon=icon)
