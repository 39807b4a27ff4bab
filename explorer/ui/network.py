"""The network pages' session: the set-up (:class:`NetworkState`, shared by The network,
Feature maps and Inside the network), the links that carry it, the models shared by every
session, and the weights picker every network page starts with.

The weights and the input belong to the session: chosen on one page, they are the ones on
every other, and every network page's address (and every link between them) carries them,
so a shared or followed link shows the same numbers on any machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

from explorer.errors import UserError, literal_markdown
from explorer.network_state import (
    DATASETS,
    NETWORK_CHOICES,
    OWN_CLASSES,
    TRAINED,
    UPLOAD,
    NetworkState,
)
from explorer.ui import widgets
from explorer.ui.state import Bound

if TYPE_CHECKING:
    from explorer.model import DeviceInfo, Preprocessing, SimpleCNN

ss = st.session_state
NET: Bound[NetworkState] = Bound("net_state", "net_", NetworkState, NETWORK_CHOICES)
LINK_SEEN = "net_link_seen"  # the query last read from, or written to, the address bar


# ============================================================================================
# Links


def read_link(page_state: Bound | None = None) -> None:
    """Apply a link that has just arrived (a first visit, a followed link from another page,
    an edited address) to the session's set-up — and to ``page_state``, the page's own state
    when it has one — once; say what it asked for that could not be used. An address the
    session wrote itself, or an empty one (a page switch), changes nothing."""
    params = st.query_params.to_dict()
    if not params or params == ss.get(LINK_SEEN):
        return
    ss[LINK_SEEN] = params
    net, warnings = NetworkState.from_query(params, NET.get())
    if page_state is not None:
        own, more = type(page_state.get()).from_query(params, page_state.get())
        page_state.put(own)
        page_state.warn(more)
    NET.put(net)
    NET.warn(warnings)


def keep_address(params: dict[str, str]) -> None:
    """Keep the address bar the share link of what is on the screen."""
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    ss[LINK_SEEN] = params


def link_note(state: NetworkState) -> None:
    """The caption under a network page: the address is the share link, and what it cannot
    carry."""
    lost = state.cannot_travel()
    st.caption(
        ":material/link: The address bar holds this page's set-up, the weights and the input "
        f"included: copy it to share. {lost or ''}"
    )


# ============================================================================================
# The network: weights, device, model


@dataclass(frozen=True)
class WeightsFile:
    """An uploaded weights file, kept in the session so that it survives page switches."""

    name: str
    data: bytes = field(repr=False)
    sha256: str = ""

    @classmethod
    def of(cls, name: str, data: bytes) -> WeightsFile:
        return cls(name, data, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class NetworkContext:
    """The weights and device chosen, with the model ready on that device. ``identity`` names
    the weights and the device: the caches hash a context by it (explorer.ui.content)."""

    weights_id: str  # a built-in key, or "upload:<sha256>:<dataset>"
    label: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    dataset: str  # the gallery that matches: "cifar10" or "mnist"
    model: SimpleCNN = field(repr=False)  # on ``device.device``; shared: never modify it
    cpu_model: SimpleCNN = field(repr=False)  # the same weights on the CPU (the GPU fallback)
    device: DeviceInfo
    card: dict = field(default_factory=dict, compare=False, hash=False)
    trained: bool = True  # False for the untrained, seeded network: nothing is learned there

    @property
    def identity(self) -> str:
        return f"{self.weights_id}@{self.device.device}"


@st.cache_resource(show_spinner="Loading the network…", max_entries=8)
def builtin_model(key: str, device: str) -> SimpleCNN:
    """A built-in network in eval mode on ``device``: loaded once per (weights, device) and
    shared by every session."""
    from explorer.model import builtin_weights
    from explorer.weights_file import load_choice

    choice = {c.key: c for c in builtin_weights()}[key]
    return load_choice(choice).to(device).eval()


# At most 6 uploaded models are kept (least recently used first out). A model has at most
# MAX_CLASSES classes, so each is at most ~7 MB of float32 parameters: ~40 MB for the cache.
@st.cache_resource(
    show_spinner="Checking the weights…",
    max_entries=6,
    hash_funcs={WeightsFile: lambda f: f.sha256},
)
def uploaded_model(file: WeightsFile, device: str) -> SimpleCNN:
    """A user's weights (the file is hashed by its SHA-256) in eval mode on ``device``. Raises
    WeightsError for an unusable file."""
    from explorer.model import build_model
    from explorer.weights_file import load_state_dict_bytes

    state, num_classes = load_state_dict_bytes(file.data)
    return build_model(state, num_classes).to(device).eval()


def builtin_context(key: str, device: DeviceInfo) -> NetworkContext:
    """A built-in network on ``device`` (shared, cached) with what the pages need to know."""
    from explorer.model import builtin_weights

    choice = {c.key: c for c in builtin_weights()}[key]
    model = builtin_model(key, device.device)
    cpu_model = model if device.device == "cpu" else builtin_model(key, "cpu")
    dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
    return NetworkContext(
        key,
        choice.label,
        choice.classes,
        choice.preprocessing,
        dataset,
        model,
        cpu_model,
        device,
        choice.card,
        trained=choice.path is not None,
    )


@dataclass(frozen=True)
class NamedWeights:
    """A network made in this session with class names of its own ("Teach it your classes"):
    its file, its classes in fc2's order, and the dataset of the network it started from."""

    file: WeightsFile
    classes: tuple[str, ...]
    dataset: str


def uploaded_context(
    file: WeightsFile,
    trained_on: str,
    device: DeviceInfo,
    classes: tuple[str, ...] | None = None,
) -> NetworkContext:
    """The user's weights on ``device``; WeightsError (a sentence) for an unusable file.
    ``classes``: the names of fc2's classes, when the session knows them."""
    from explorer.model import (
        CIFAR10_CLASSES,
        CIFAR10_PREPROCESSING,
        DIGIT_CLASSES,
        MNIST_PREPROCESSING,
    )

    model = uploaded_model(file, device.device)
    cpu_model = model if device.device == "cpu" else uploaded_model(file, "cpu")
    num_classes = model.fc2.out_features
    digits = trained_on == "mnist"
    names = DIGIT_CLASSES if digits else CIFAR10_CLASSES
    if num_classes != 10:
        names = tuple(f"class {i}" for i in range(num_classes))
    weights_id = f"upload:{file.sha256}:{trained_on}"
    if classes is not None and len(classes) == num_classes:
        names = classes  # the names are shown by cached pictures too: part of the identity
        weights_id += ":" + hashlib.sha256("\n".join(classes).encode()).hexdigest()[:16]
    pre = MNIST_PREPROCESSING if digits else CIFAR10_PREPROCESSING
    # The dataset is part of the identity: it decides the normalisation, so the same file read
    # as MNIST weights must not reuse the captures made for it as CIFAR-10 weights.
    return NetworkContext(
        weights_id,
        file.name,
        names,
        pre,
        trained_on,
        model,
        cpu_model,
        device,
    )


def _device_picker() -> DeviceInfo:
    from explorer.model import available_devices

    devices = {d.device: d for d in available_devices()}
    if ss.get("net_device") not in devices:
        ss["net_device"] = next(iter(devices))
    if len(devices) == 1:
        st.sidebar.caption("Runs on: **CPU** (no GPU found on the server).")
        return devices["cpu"]
    chosen = st.sidebar.radio(
        "Run the network on",
        list(devices),
        format_func=lambda d: devices[d].name,
        key="net_device",
        help="The GPU is chosen when there is one; switch to the CPU to compare.",
    )
    return devices[chosen if chosen in devices else "cpu"]


UPLOADED_WEIGHTS = "net_weights_upload"  # the session's WeightsFile, kept across pages
TRAINED_WEIGHTS = "net_trained"  # the network trained on the Train page (a WeightsFile)
OWN_CLASSES_WEIGHTS = "net_own_classes"  # made on "Teach it your classes" (a NamedWeights)


def _weights_upload(state: NetworkState) -> WeightsFile | None:
    """The sidebar's upload of weights; the file stays in the session (the uploader itself is
    emptied by every page switch)."""
    from explorer.model import MAX_CLASSES
    from explorer.weights_file import MAX_WEIGHTS_BYTES

    def uploaded() -> None:
        upload = ss.get("net_weights_file")
        if upload is None:
            ss.pop(UPLOADED_WEIGHTS, None)
        else:
            ss[UPLOADED_WEIGHTS] = WeightsFile.of(upload.name, upload.getvalue())

    bar = st.sidebar
    bar.file_uploader(
        "SimpleCNN weights (a state_dict saved with torch.save)",
        # Other kinds are accepted here so that our checks can say what the file is and how
        # to convert it, rather than the uploader refusing it without a reason.
        type=["pt", "pth", "bin", "ckpt", "safetensors", "onnx", "npz", "h5"],
        key="net_weights_file",
        on_change=uploaded,
        help=f"At most {MAX_WEIGHTS_BYTES // 2**20} MB and {MAX_CLASSES:,} classes. Only "
        "tensors are read (torch.load with weights_only=True); nothing in the file is run.",
    )
    NET.choice(
        bar.radio,
        "upload_dataset",
        "Trained on",
        horizontal=True,
        help="Decides the class names, the normalisation and how drawings are prepared.",
    )
    file = ss.get(UPLOADED_WEIGHTS)
    if file is not None and ss.get("net_weights_file") is None:
        bar.caption(f"Using {literal_markdown(file.name)}, uploaded earlier.")
    return file


def network_sidebar() -> NetworkContext | None:
    """The weights (on the page: on a phone the sidebar is folded away, and which network runs
    is the first thing a student changes), the device and the model card (in the sidebar).
    Returns None (after saying why) when uploaded weights are missing or unusable."""
    st.sidebar.header("The network")
    trained = ss.get(TRAINED_WEIGHTS) is not None or NET.get().weights == TRAINED
    own = ss.get(OWN_CLASSES_WEIGHTS) is not None or NET.get().weights == OWN_CLASSES
    NET.choice(
        st.columns([2, 3])[0].selectbox,
        "weights",
        "Weights",
        # "Your network" is offered once there is one (or a link asks for it: then it says how)
        options=[
            k
            for k in NETWORK_CHOICES["weights"].labels
            if (k != TRAINED or trained) and (k != OWN_CLASSES or own)
        ],
        help="The numbers inside the filters and layers. Trained weights recognise things; "
        "untrained ones are random.",
    )
    state = NET.get()
    device = _device_picker()
    if state.weights == TRAINED:
        return _trained_context(state, device)
    if state.weights == OWN_CLASSES:
        return _own_classes_context(state, device)
    if state.weights != UPLOAD:
        ctx = builtin_context(state.weights, device)
        _model_card(ctx.card)
        return ctx
    file = _weights_upload(state)
    if file is None:
        st.info(
            "Upload a weights file in the sidebar (☰ on a phone), or choose built-in weights. "
            "A link made with uploaded weights cannot carry the file: upload the same file to "
            "see the same numbers."
        )
        return None
    try:
        ctx = uploaded_context(file, state.upload_dataset, device)
    except UserError as exc:
        widgets.error(f"These weights cannot be used. {exc}")
        return None
    st.sidebar.success(
        f"Loaded {literal_markdown(file.name)}: {len(ctx.classes)} classes, read as "
        f"{DATASETS[state.upload_dataset]} weights."
    )
    return ctx


def _trained_context(state: NetworkState, device: DeviceInfo) -> NetworkContext | None:
    """The network trained on the Train page in this session, or None (after saying how to
    make one: a link cannot carry it)."""
    file = ss.get(TRAINED_WEIGHTS)
    if file is None:
        st.info(
            "There is no network trained in this session yet: train one on the page "
            "“Train it yourself”, or choose built-in weights. A link cannot carry a network "
            "trained elsewhere."
        )
        return None
    ctx = uploaded_context(file, state.upload_dataset, device)
    st.sidebar.caption(
        f"Your network, trained here on {DATASETS[state.upload_dataset]}: its held-out "
        "accuracy is on the Train page."
    )
    return ctx


def _own_classes_context(state: NetworkState, device: DeviceInfo) -> NetworkContext | None:
    """The network taught the student's own classes in this session, with their names, or
    None (after saying how to make one: a link cannot carry it)."""
    own: NamedWeights | None = ss.get(OWN_CLASSES_WEIGHTS)
    if own is None:
        st.info(
            "There is no network taught your classes in this session yet: make one on the page "
            "“Teach it your classes”, or choose built-in weights. A link cannot carry it."
        )
        return None
    if state.upload_dataset != own.dataset:  # its pictures are read as its base network's
        NET.put(state.choose("upload_dataset", own.dataset))
    ctx = uploaded_context(own.file, own.dataset, device, own.classes)
    st.sidebar.caption(
        f"Your classes, taught here to the {DATASETS[own.dataset]} network: "
        f"{literal_markdown(', '.join(own.classes))}. Its held-out accuracy is on the page "
        "“Teach it your classes”."
    )
    return ctx


def network_page(
    page: str, title: str, intro: str, sections: dict[str, str], page_state: Bound | None = None
) -> tuple[widgets.Presenter, NetworkContext]:
    """The start every network page shares: the link, presenter mode, the title and intro, the
    weights and device, what a link asked for that could not be used. Stops the page (after
    saying why) when there is no usable network yet."""
    read_link(page_state)
    show = widgets.presenter(page, sections)
    widgets.page_header(title, intro, presenting=show.on)
    ctx = network_sidebar()
    warnings = NET.warnings() + (page_state.warnings() if page_state is not None else [])
    for warning in warnings:
        widgets.warning(warning, icon=":material/link:")
    if ctx is None:
        st.stop()
    return show, ctx


def _model_card(card: dict) -> None:
    if not card:
        st.sidebar.caption(
            "Random weights: the network has not learned anything yet, so its answers are "
            "guesses. Its structure and shapes are exactly those of the trained network."
        )
        return
    line = f"**Test accuracy: {card['test_accuracy'] * 100:.1f}%** on {card['dataset']}"
    if "test_images_exact" in card:
        line += f" ({card['test_images_exact']:,} test images never seen in training)"
    st.sidebar.markdown(line)
    training = card.get("training", {})
    st.sidebar.caption(
        f"{card.get('train_images', 0):,} training images, {training.get('epochs', '?')} "
        f"epochs on {card.get('device', '?')}."
    )
