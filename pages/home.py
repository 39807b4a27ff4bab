"""Home: what a CNN is, in a few plain sentences, and where to go next."""

import streamlit as st

from explorer.shift_summary import home_sentence, shipped_summary
from explorer.ui import path, widgets

SECTIONS = {
    "what": "What is a CNN?",
    "why": "Why does it work so well for images?",
    "next": "Where to go next",
}

widgets.use_app_navigation()
show = widgets.presenter("home", SECTIONS)
widgets.page_header(
    "CNN Explorer",
    "Learn how a **convolutional neural network** (CNN) sees, by playing with one. "
    "Every number on these pages is computed live by the app — nothing is a picture from a book.",
    presenting=show.on,
)

if show.shows("what"):
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

if show.shows("why"):
    st.subheader("Why does it work so well for images?")
    st.markdown(
        "Three reasons are usually given. Each one is an experiment on the live network here, "
        "so you can check it rather than take it on trust."
    )
    shifts = shipped_summary("cifar10")
    CLAIMS = [  # (what the claim says, the experiment's page, its link label, icon)
        (
            "**Shared parameters.** The same small filter is used at every position, so a 3×3 "
            "filter has only 9 weights per input channel however large the image is — far "
            "fewer than connecting every pixel to everything.",
            "pages/why_sharing.py",
            "Count them: shared weights",
            ":material/share:",
        ),
        (
            home_sentence(shifts)
            if shifts is not None
            else "**Translation.** A convolution finds an edge wherever it is; pooling makes "
            "the answer change little when the object moves a little — how little is measured "
            "in the shift lab.",
            "pages/why_translation.py",
            "Slide an image: the shift lab",
            ":material/swap_horiz:",
        ),
        (
            "**A hierarchy of features.** Each layer sees a larger piece of the image than the "
            "one before: early layers find edges and colours, later layers combine them into "
            "textures and parts.",
            "pages/why_hierarchy.py",
            "Tour the layers: a hierarchy",
            ":material/stacks:",
        ),
    ]
    for column, (claim, page, label, icon) in zip(
        st.columns(len(CLAIMS), gap="large"), CLAIMS, strict=True
    ):
        with column:
            st.markdown(claim)
            widgets.page_link(page, label, icon)

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
MORE = [  # the same, for the pages that show why CNNs work, and the glossary
    (
        "pages/why_translation.py",
        "Why CNNs: shifts",
        "Slide the input and watch what follows: conv1's maps shift with it, the pooled maps "
        "only by whole cells, the answer only roughly.",
        "Shift the input",
        ":material/swap_horiz:",
    ),
    (
        "pages/why_sharing.py",
        "Why CNNs: shared weights",
        "One small kernel used at every position: edit it live, and count what the sharing "
        "saves on the real model.",
        "Share one kernel",
        ":material/share:",
    ),
    (
        "pages/why_hierarchy.py",
        "Why CNNs: a hierarchy",
        "How far one unit of each stage sees, and which real images excite the maps of conv1, "
        "conv2 and conv3 most.",
        "Climb the layers",
        ":material/stacks:",
    ),
    (
        "pages/own_classes.py",
        "Teach it your classes",
        "Show the camera a few examples of classes of your own and let the network learn them.",
        "Teach it",
        ":material/photo_camera:",
    ),
    (
        "pages/glossary.py",
        "Words used here",
        "Every word the app uses — logit, bias, feature map, receptive field, float32 — "
        "explained once, with this network's numbers.",
        "Look a word up",
        ":material/menu_book:",
    ),
]
if show.shows("next"):
    st.subheader("Where to go next")
    for cards in (NEXT, MORE):
        for column, (page, title, text, label, icon) in zip(
            st.columns(len(cards)), cards, strict=True
        ):
            with column:
                st.markdown(f"#### {title}")
                st.markdown(text)
                widgets.page_link(page, label, icon)  # in presenter mode, the link keeps it

widgets.keep_presenter_address(show)
path.page_end(__file__)
widgets.presenter_controls("home", SECTIONS, show)
