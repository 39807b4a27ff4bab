"""The words the app uses, each explained once in plain language: one registry that the
Glossary page lists in full and each page's "Words on this page" box draws from.

A definition says what the thing is in this app's network (SimpleCNN, 32×32 inputs), with a
number a student can check on the pages, rather than a textbook's general case. Streamlit-free.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    key: str  # also the anchor on the Glossary page
    word: str
    meaning: str


TERMS: tuple[Term, ...] = (
    Term(
        "convolution",
        "convolution",
        "Sliding a small grid of numbers (the kernel) over an image: at each position, multiply "
        "the pixels under it by the kernel's numbers and add the products up. The sums form a "
        "new image. Deep-learning libraries do not flip the kernel (strictly a "
        "cross-correlation); the playground lets you flip it to get the true convolution.",
    ),
    Term(
        "kernel",
        "kernel / filter",
        "The small grid of numbers a convolution slides over its input. In the network each "
        "filter is 3×3 per input channel (conv1: 3×3×3 = 27 numbers plus a bias), and its "
        "numbers are learned in training instead of typed in.",
    ),
    Term(
        "padding",
        "padding",
        "Extra pixels added around the border so the kernel can be centred on edge pixels too. "
        "SimpleCNN pads with one ring of zeros, so a 32×32 map stays 32×32.",
    ),
    Term(
        "stride",
        "stride and dilation",
        "Stride: how far the kernel moves between positions (2 halves the output's size). "
        "Dilation: gaps between the kernel's taps, so a 3×3 kernel covers a wider area.",
    ),
    Term(
        "channel",
        "channel",
        "One of the stacked pictures a layer reads or writes: a photo has 3 (red, green, blue); "
        "conv1 writes 32, conv2 64, conv3 128.",
    ),
    Term(
        "feature-map",
        "feature map",
        "The picture one filter produces: for every position, how strongly the filter's pattern "
        "is there. conv1 makes 32 of them, each 32×32.",
    ),
    Term(
        "notation",
        "stage[map, row, column]",
        "How the pages name one number inside the network: conv2[5, 4, 7] is the value in "
        "conv2's map 5 at row 4, column 7 (counting from 0). A vector stage has one index: "
        "fc1[100].",
    ),
    Term(
        "bias",
        "bias",
        "A number added after the multiply-and-add, one per filter (or per unit of a fully "
        "connected layer): it shifts where the unit starts to respond.",
    ),
    Term(
        "relu",
        "ReLU",
        "Rectified linear unit: negative numbers become 0, positive ones pass unchanged. It is "
        "what lets a stack of layers compute more than one big multiplication could.",
    ),
    Term(
        "max-pool",
        "max-pooling",
        "Keep the largest of each 2×2 block: the map's height and width halve (32→16→8→4), and "
        "a pattern found anywhere in the block survives.",
    ),
    Term(
        "receptive-field",
        "receptive field",
        "The patch of the input image that can change one number in the network. It grows "
        "layer by layer: {fields} pixels of the 32×32 image.",
    ),
    Term(
        "fully-connected",
        "fully connected layer",
        "A layer where every output is a weighted sum of every input: fc1 turns the 2,048 "
        "numbers of pool3 into 512, fc2 turns those into one score per class.",
    ),
    Term(
        "logit",
        "logit",
        "The network's raw score for a class (fc2's output), before softmax. Only differences "
        "between logits matter: adding the same number to all of them changes nothing.",
    ),
    Term(
        "softmax",
        "softmax / probability",
        "Turns the logits into probabilities that add up to 1: exp(logit) divided by the sum of "
        "all the exps. The largest logit gets the largest probability.",
    ),
    Term(
        "float32",
        "float32 and float64",
        "How a computer stores a number with a decimal point: float32 keeps about 7 significant "
        "digits, float64 about 16. The network computes in float32; the Inside page redoes the "
        "arithmetic in float64 and shows how close the two are.",
    ),
    Term(
        "weights",
        "weights / parameters",
        "All the numbers the network learns: every kernel value, bias and connection. "
        "SimpleCNN has 1,147,466 of them; training adjusts them to make fewer mistakes.",
    ),
    Term(
        "epoch",
        "epoch, batch, learning rate",
        "Training shows the network a batch of images, measures its mistakes (the loss) and "
        "nudges every weight a little (by the learning rate) to reduce them. One epoch = every "
        "training image once.",
    ),
    Term(
        "held-out",
        "held-out images",
        "Images kept out of training and used only to measure accuracy: a network can memorise "
        "its training images, so only unseen ones tell how well it generalises.",
    ),
    Term(
        "saliency",
        "saliency, Grad-CAM, integrated gradients",
        "Three ways to ask which pixels mattered for an answer, each from the network's "
        "gradients. They often disagree: each is a clue, not a proof.",
    ),
    Term(
        "activation-maximisation",
        "activation maximisation",
        "Start from a blurry random image and change it, step by step, to make one feature map "
        "as large as possible: a picture of what that map responds to (a caricature, not a "
        "photo the network has seen).",
    ),
    Term(
        "equivariance",
        "equivariance and invariance",
        "Equivariant: shift the input and the output shifts the same way (a convolution). "
        "Invariant: shift the input and the output does not change at all (what a classifier "
        "would like to be; pooling makes it only approximately so).",
    ),
)


def _with_numbers(term: Term) -> Term:
    """A definition whose numbers come from the code (the receptive fields' sizes)."""
    if "{fields}" not in term.meaning:
        return term
    from explorer.receptive_field import field_steps

    convs = [s for s in field_steps() if s.stage.startswith("conv")]
    fields = ", ".join(f"{s.stage} {s.field}×{s.field}" for s in convs)
    return Term(term.key, term.word, term.meaning.format(fields=fields))


TERMS = tuple(_with_numbers(t) for t in TERMS)
TERM_BY_KEY: dict[str, Term] = {t.key: t for t in TERMS}


def terms(*keys: str) -> tuple[Term, ...]:
    """The terms with these keys, in the order given (a page lists the words it uses)."""
    missing = [k for k in keys if k not in TERM_BY_KEY]
    if missing:
        raise KeyError(f"no glossary entry for {missing}")
    return tuple(TERM_BY_KEY[k] for k in keys)
