"""The network pages' caches (explorer.ui.content) are keyed by what they hold: change any input
of any cached computation or picture — the weights, the image, the class, an option — and what
comes back changes. A key that ignored one of them would hand one student's picture to another
(a student who picks "dog" would see the attribution maps of another class)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from explorer.features import ModelInput, preprocess
from explorer.model import DeviceInfo, available_devices
from explorer.receptive_field import receptive_field
from explorer.samples import gallery, load_gallery_image
from explorer.ui import content
from explorer.ui.network import builtin_context

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
CPU = next(d for d in available_devices() if d.device == "cpu")


def _input(dataset: str, index: int) -> ModelInput:
    item = gallery(dataset)[index]
    return ModelInput(load_gallery_image(item), item.source, item.label_name)


@pytest.fixture(scope="module")
def two() -> dict:
    cifar, mnist = (
        builtin_context("simplecnn-cifar10", CPU),
        builtin_context("simplecnn-mnist", CPU),
    )
    a, b = _input("cifar10", 0), _input("cifar10", 7)
    return {
        "cifar": cifar,
        "mnist": mnist,
        "a": a,
        "b": b,
        "acts_a": content.capture(cifar, a),
        "acts_b": content.capture(cifar, b),
        "acts_mnist": content.capture(mnist, a),
    }


def differ(x: object, y: object) -> bool:
    if isinstance(x, dict):
        return any(differ(x[k], y[k]) for k in x)  # type: ignore[index]
    if isinstance(x, list | tuple):
        return len(x) != len(y) or any(differ(p, q) for p, q in zip(x, y, strict=False))  # type: ignore[arg-type]
    if isinstance(x, np.ndarray):
        return not np.array_equal(x, y)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(x):
        return differ(dataclasses.asdict(x), dataclasses.asdict(y))  # type: ignore[arg-type, call-overload]
    return x != y


def test_capture_follows_the_weights_and_the_image(two) -> None:
    assert differ(two["acts_a"].logits, two["acts_b"].logits)
    assert differ(two["acts_a"].logits, two["acts_mnist"].logits)
    assert two["acts_a"].identity != two["acts_b"].identity != two["acts_mnist"].identity


def test_stage_pictures_follow_the_capture_and_the_scale(two) -> None:
    base = content.stage_pictures(two["acts_a"], False)
    assert differ(base, content.stage_pictures(two["acts_b"], False))
    assert differ(base, content.stage_pictures(two["acts_mnist"], False))
    assert differ(base, content.stage_pictures(two["acts_a"], True))


def test_map_pictures_follow_every_input(two) -> None:
    acts = two["acts_a"]
    thumbs = content.map_thumbnails(acts, "conv1", False)
    assert differ(thumbs, content.map_thumbnails(two["acts_b"], "conv1", False))
    assert differ(thumbs, content.map_thumbnails(acts, "relu1", False))
    assert differ(thumbs, content.map_thumbnails(acts, "conv1", True))

    def z(fig) -> np.ndarray:
        return np.asarray(fig.data[0].z)

    fig = content.map_figure(acts, "conv2", 3, False)
    assert differ(z(fig), z(content.map_figure(two["acts_b"], "conv2", 3, False)))
    assert differ(z(fig), z(content.map_figure(acts, "relu2", 3, False)))
    assert differ(z(fig), z(content.map_figure(acts, "conv2", 4, False)))
    assert differ(fig.data[0].zmin, content.map_figure(acts, "conv2", 3, True).data[0].zmin)


def test_input_pictures_follow_the_image_and_the_normalisation(two) -> None:
    a, pre = two["a"], two["cifar"].preprocessing
    base = content.input_pictures(a, pre)
    assert differ(base, content.input_pictures(two["b"], pre))
    other = content.input_pictures(a, two["mnist"].preprocessing)
    assert [v.low for v, _ in base[1]] != [v.low for v, _ in other[1]]
    assert differ(content.enlarged_png(a.image), content.enlarged_png(two["b"].image))


def test_filter_pictures_follow_the_weights_the_layer_and_the_filter(two) -> None:
    cifar, mnist = two["cifar"], two["mnist"]
    assert differ(content.conv1_filters_png(cifar), content.conv1_filters_png(mnist))
    base = content.filter_grid_png(cifar, "conv2", 3)
    assert differ(base, content.filter_grid_png(mnist, "conv2", 3))
    assert differ(base, content.filter_grid_png(cifar, "conv3", 3))
    assert differ(base, content.filter_grid_png(cifar, "conv2", 4))


def test_small_pictures_follow_their_inputs(two) -> None:
    assert differ(content.colour_bar_png("signed"), content.colour_bar_png("nonnegative"))
    assert differ(content.gallery_thumbnails("cifar10"), content.gallery_thumbnails("mnist"))
    box, other = receptive_field("conv2", (0, 3, 3)), receptive_field("conv2", (0, 9, 3))
    image = two["a"].image
    assert differ(content.field_png(image, box), content.field_png(image, other))
    assert differ(content.field_png(image, box), content.field_png(two["b"].image, box))
    bars = (("cat", 0.5), ("dog", 0.25))
    assert differ(content.bars_html(bars, "cat", ".1%"), content.bars_html(bars, "dog", ".1%"))
    assert differ(content.bars_html(bars, "cat", ".1%"), content.bars_html(bars, "cat", ".3g"))


def test_attributions_follow_the_class_the_image_and_the_weights(two) -> None:
    cifar, a = two["cifar"], two["a"]
    cat, dog = content.attributions(cifar, a, 3), content.attributions(cifar, a, 5)
    assert (cat.target, dog.target) == (3, 5) and differ(cat.integrated, dog.integrated)
    assert differ(cat.grad_cam, content.attributions(cifar, two["b"], 3).grad_cam)
    assert differ(cat.saliency, content.attributions(two["mnist"], a, 3).saliency)
    pngs = content.attribution_pngs(cat, a.image)
    assert differ(pngs, content.attribution_pngs(dog, a.image))
    assert differ(pngs, content.attribution_pngs(cat, two["b"].image))


def test_gallery_scores_follow_the_weights(two) -> None:
    keys, cifar = content.gallery_scores(two["cifar"])
    keys2, mnist = content.gallery_scores(two["mnist"])
    assert keys != keys2 and differ(cifar.peak, mnist.peak)


def test_a_capture_without_its_identity_is_never_cached(two) -> None:
    anonymous = dataclasses.replace(two["acts_a"], identity="")
    with pytest.raises(Exception, match="identity"):
        content.stage_pictures(anonymous, False)


def test_two_drawings_described_alike_are_two_inputs(two) -> None:
    """Every drawing is "your drawing", every upload of a file the same name: an input is
    told apart by its pixels, so a student's second drawing gets its own numbers, not those
    of the first."""
    cifar = two["cifar"]
    first = ModelInput(two["a"].image, "your drawing")
    second = ModelInput(two["b"].image, "your drawing")
    for inp in (first, second):
        acts = content.capture(cifar, inp)
        with torch.no_grad():  # the same weights and pixels run by plain PyTorch
            expected = cifar.cpu_model(preprocess(inp.image, cifar.preprocessing))[0].numpy()
        np.testing.assert_array_equal(acts.logits, expected)


def test_a_network_on_another_device_is_run_there(two) -> None:
    """The device is part of a network's identity: what was computed on the CPU is not handed
    to a session that asked for a GPU (its device, its timing and a GPU's failure are its
    own). A device that always fails ("meta": shapes without numbers) stands in for a GPU, so
    this runs the same on any machine."""
    cpu = content.capture(two["cifar"], two["a"])
    failing = builtin_context("simplecnn-cifar10", DeviceInfo("meta", "a GPU that fails", True))
    there = content.capture(failing, two["a"])
    assert cpu.fallback_reason is None
    assert there.fallback_reason is not None and "meta" in there.fallback_reason
    np.testing.assert_array_equal(there.logits, cpu.logits)  # the CPU's numbers, said so


def test_the_optimised_input_follows_the_conv3_map(two, monkeypatch) -> None:
    """Each conv3 map gets its own optimised input; what the page reports for it (the map's
    mean on that input) is that map's mean by plain PyTorch."""
    from explorer import attribution
    from explorer.ui import inside_sections

    monkeypatch.setattr(attribution, "MAXIMISE_STEPS", 4)  # read by the page at each call
    cifar = two["cifar"]
    inside_sections._MAXIMISED.clear()
    try:
        for channel in (11, 12):
            best = inside_sections.maximised_input(cifar, channel)
            assert best is not None and best.channel == channel
            m = cifar.cpu_model
            with torch.no_grad():
                x = preprocess(best.image, cifar.preprocessing)
                conv3 = m.conv3(m.pool(torch.relu(m.conv2(m.pool(torch.relu(m.conv1(x)))))))
            assert best.mean == pytest.approx(float(conv3[0, channel].mean()), rel=1e-5)
        again = inside_sections.maximised_input(cifar, 11, compute=False)
        assert again is not None and again.channel == 11
    finally:
        inside_sections._MAXIMISED.clear()
