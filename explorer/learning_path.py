"""The app's path for a beginner: the pages in the order they build on each other, each with a
two-line recap of what it showed and the words it uses (explorer.glossary). A page ends with
its recap, its words and a link to the next page (explorer.ui.path). Streamlit-free."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.glossary import Term, terms


@dataclass(frozen=True)
class Stop:
    page: str  # the page's file, as app.py registers it
    title: str  # as the navigation shows it
    recap: tuple[str, str]
    words: tuple[str, ...]  # glossary keys
    icon: str  # the navigation's Material icon (drawn from the app's own font, offline)

    def terms(self) -> tuple[Term, ...]:
        return terms(*self.words)


PATH: tuple[Stop, ...] = (
    Stop(
        "pages/home.py",
        "Start here",
        (
            "A CNN reads an image through layers of small filters, then a classifier.",
            "Each page of this app opens one part of that, with every number computed live.",
        ),
        ("convolution", "feature-map", "weights"),
        ":material/home:",
    ),
    Stop(
        "pages/convolution.py",
        "Convolution playground",
        (
            "A convolution slides a kernel over the image: multiply, add, write one number.",
            "Padding, stride and dilation decide the output's size; the kernel, what it finds.",
        ),
        ("convolution", "kernel", "padding", "stride", "channel"),
        ":material/grid_on:",
    ),
    Stop(
        "pages/network.py",
        "The network",
        (
            "SimpleCNN stacks three convolution blocks (convolution, ReLU, max-pool), then two "
            "fully connected layers.",
            "Most of its 1,147,466 weights sit in fc1; the convolutions are small and shared.",
        ),
        ("channel", "relu", "max-pool", "fully-connected", "weights"),
        ":material/account_tree:",
    ),
    Stop(
        "pages/feature_maps.py",
        "Feature maps",
        (
            "Every filter of every layer turns the image into a feature map.",
            "Early maps find edges and colours; later ones are smaller and more abstract.",
        ),
        ("feature-map", "notation", "relu", "max-pool", "softmax"),
        ":material/layers:",
    ),
    Stop(
        "pages/inside.py",
        "Inside the network",
        (
            "Any single number in the network is a sum of products plus a bias, shown term by "
            "term.",
            "Its receptive field, attributions and optimised inputs show what it responds to.",
        ),
        (
            "notation",
            "bias",
            "logit",
            "softmax",
            "float32",
            "receptive-field",
            "saliency",
            "activation-maximisation",
        ),
        ":material/calculate:",
    ),
    Stop(
        "pages/train.py",
        "Train it yourself",
        (
            "Training nudges every weight to make fewer mistakes, batch by batch.",
            "Held-out accuracy says how well the network does on images it never trained on.",
        ),
        ("epoch", "held-out", "weights"),
        ":material/model_training:",
    ),
    Stop(
        "pages/own_classes.py",
        "Teach it your classes",
        (
            "A trained network's features can learn new classes from a few images.",
            "Only the classifier head is trained; the convolutions stay as they were.",
        ),
        ("fully-connected", "held-out"),
        ":material/photo_camera:",
    ),
    Stop(
        "pages/why_translation.py",
        "Why CNNs: shifts",
        (
            "Convolution is equivariant: shift the input and its maps shift with it.",
            "Pooling makes the answer only approximately invariant, as the measurement shows.",
        ),
        ("equivariance", "max-pool", "softmax"),
        ":material/swap_horiz:",
    ),
    Stop(
        "pages/why_sharing.py",
        "Why CNNs: shared weights",
        (
            "One small kernel is reused at every position of the image.",
            "Without that sharing the same layers would need millions of weights more.",
        ),
        ("kernel", "weights", "fully-connected"),
        ":material/share:",
    ),
    Stop(
        "pages/why_hierarchy.py",
        "Why CNNs: a hierarchy",
        (
            "Receptive fields grow layer by layer, from 3×3 pixels to the whole image.",
            "So maps go from edges and colours to textures and parts.",
        ),
        ("receptive-field", "activation-maximisation", "feature-map"),
        ":material/stacks:",
    ),
)
STOP_BY_PAGE: dict[str, Stop] = {s.page: s for s in PATH}
# The lesson a teacher presents, Home to training (linked at the end of every page in presenter
# mode); the pages after it are for students on their own.
LESSON: tuple[Stop, ...] = PATH[: [s.page for s in PATH].index("pages/train.py") + 1]


@dataclass(frozen=True)
class NavPage:
    """A page of the app's navigation: its file, title and icon; its address is the file's
    name ("" for the first page, the default)."""

    page: str
    title: str
    icon: str

    def address(self, first: bool) -> str:
        return "" if first else self.page.removeprefix("pages/").removesuffix(".py")


GLOSSARY = NavPage("pages/glossary.py", "Words used here", ":material/menu_book:")


def navigation() -> tuple[NavPage, ...]:
    """The pages app.py registers, in order: the path's, then the glossary (reached from every
    page's words, not a stop of its own)."""
    return (*(NavPage(s.page, s.title, s.icon) for s in PATH), GLOSSARY)


def next_stop(page: str) -> Stop | None:
    """The page after ``page`` on the path; None at its end."""
    i = [s.page for s in PATH].index(page)
    return PATH[i + 1] if i + 1 < len(PATH) else None
