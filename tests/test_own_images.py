"""explorer.own_images: the fine-tune of a new fc2 against a plain PyTorch reference written here
from the shipped file's tensors, the held-out split's rules, the feature cache, and the
sentences for classes that cannot be trained yet."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.features import capture_activations, preprocess
from explorer.model import CIFAR10_PREPROCESSING, MNIST_PREPROCESSING, WEIGHTS_DIR
from explorer.model_input import digit_to_model_image, photo_to_model_image
from explorer.own_images import (
    OwnImage,
    OwnImagesError,
    check_classes,
    class_problems,
    clean_name,
    conv_features,
    held_out_count,
    held_out_split,
    own_job,
    predict,
    shipped_model,
)
from explorer.pixels import ImageError
from explorer.training_data import load_training_set
from explorer.weights_file import load_state_dict_bytes


class NoControl:
    def checkpoint(self) -> None:
        pass


def pictures(classes: int, per_class: list[int] | int) -> tuple[np.ndarray, list[int]]:
    """Held-out CIFAR-10 photographs: ``per_class`` of each of the first ``classes`` classes."""
    data = load_training_set("cifar10")
    counts = per_class if isinstance(per_class, list) else [per_class] * classes
    chosen = np.concatenate([np.flatnonzero(data.held_y == c)[:n] for c, n in enumerate(counts)])
    x = np.ascontiguousarray(data.held_x[chosen].transpose(0, 2, 3, 1))
    return x, [int(v) for v in data.held_y[chosen]]


def run_job(**kwargs) -> tuple[dict, list[dict]]:
    events: list[dict] = []
    result = own_job(NoControl(), events.append, **kwargs)
    return result, events


# --------------------------------------------------------------------------------------------
# The reference: written from the shipped file's tensors with torch.nn.functional only


def reference(
    base: str, images: np.ndarray, labels: list[int], k: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """(fc2 weight, fc2 bias, held-out indices, every picture's predicted class), computed
    without explorer: the conv stack and fc1 by hand, the split by the documented rule (one in
    five of each class, at least one, drawn class by class from one NumPy generator), fc2 from
    zeros by 200 full-batch Adam steps at 0.01 on the mean cross-entropy."""
    name = {"cifar10": "simplecnn-cifar10", "mnist": "simplecnn-mnist"}[base]
    w = torch.load(WEIGHTS_DIR / f"{name}.pt", weights_only=True)
    w = {k_: v.float() for k_, v in w.items()}
    pre = {"cifar10": CIFAR10_PREPROCESSING, "mnist": MNIST_PREPROCESSING}[base]
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255
    x = (x - torch.tensor(pre.mean).view(1, 3, 1, 1)) / torch.tensor(pre.std).view(1, 3, 1, 1)
    with torch.no_grad():
        for layer in ("conv1", "conv2", "conv3"):
            x = F.max_pool2d(
                F.relu(F.conv2d(x, w[f"{layer}.weight"], w[f"{layer}.bias"], padding=1)), 2
            )
        hidden = F.relu(x.reshape(len(x), -1) @ w["fc1.weight"].T + w["fc1.bias"])
    y = np.array(labels)
    rng = np.random.default_rng(seed)
    held = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        held += list(rng.permutation(members)[: max(1, len(members) // 5)])
    held_idx = np.array(sorted(held))
    train_idx = np.array([i for i in range(len(y)) if i not in set(held)])
    weight = torch.zeros(k, 512, requires_grad=True)
    bias = torch.zeros(k, requires_grad=True)
    adam = torch.optim.Adam([weight, bias], lr=0.01)
    target = torch.tensor(y[train_idx])
    for _ in range(200):
        loss = F.cross_entropy(hidden[train_idx] @ weight.T + bias, target)
        adam.zero_grad()
        loss.backward()
        adam.step()
    with torch.no_grad():
        predicted = (hidden @ weight.T + bias).argmax(1).numpy()
    return weight.detach(), bias.detach(), held_idx, predicted


@pytest.mark.parametrize("base, seed", [("cifar10", 0), ("mnist", 7)])
def test_the_fine_tune_equals_a_plain_pytorch_reference(base: str, seed: int) -> None:
    x, y = pictures(3, [6, 9, 11])
    names = ["planes", "cars", "birds"]
    result, events = run_job(base=base, classes=names, images=x, labels=y, seed=seed)
    weight, bias, held_idx, predicted = reference(base, x, y, 3, seed)

    state = torch.load(io.BytesIO(result["state_dict"]), weights_only=True)
    assert torch.allclose(state["fc2.weight"], weight, atol=1e-5)
    assert torch.allclose(state["fc2.bias"], bias, atol=1e-5)
    shipped = torch.load(WEIGHTS_DIR / f"simplecnn-{base}.pt", weights_only=True)
    for key in ("conv1.weight", "conv2.bias", "conv3.weight", "fc1.weight", "fc1.bias"):
        assert torch.equal(state[key], shipped[key].float()), key  # frozen: not one bit moved

    assert result["held_out"]["indices"] == held_idx.tolist()
    assert result["held_out"]["labels"] == [y[i] for i in held_idx]
    assert result["held_out"]["predicted"] == predicted[held_idx].tolist()
    assert result["held_out_count"] == len(held_idx) == 1 + 1 + 2
    assert result["held_out_accuracy"] == pytest.approx(
        np.mean(predicted[held_idx] == np.array(y)[held_idx])
    )
    train_idx = np.setdiff1d(np.arange(len(y)), held_idx)
    assert result["train_accuracy"] == pytest.approx(
        np.mean(predicted[train_idx] == np.array(y)[train_idx])
    )
    assert result["classes"] == names and result["base"] == base and result["seed"] == seed
    assert [e["step"] for e in events if e["kind"] == "train"] == list(range(20, 201, 20))
    assert events[0] == {"kind": "features", "done": 0, "total": len(y)}


def test_the_same_pictures_and_seed_give_the_same_network_and_another_seed_another_split() -> None:
    x, y = pictures(2, 10)
    first, _ = run_job(base="cifar10", classes=["a", "b"], images=x, labels=y, seed=3)
    again, _ = run_job(base="cifar10", classes=["a", "b"], images=x, labels=y, seed=3)
    other, _ = run_job(base="cifar10", classes=["a", "b"], images=x, labels=y, seed=4)
    a = torch.load(io.BytesIO(first["state_dict"]), weights_only=True)
    b = torch.load(io.BytesIO(again["state_dict"]), weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first["held_out"] == again["held_out"]
    assert first["held_out"]["indices"] != other["held_out"]["indices"]


def test_the_network_is_a_simplecnn_the_upload_accepts_and_runs_like_the_head() -> None:
    x, y = pictures(4, 5)
    result, _ = run_job(base="cifar10", classes=list("abcd"), images=x, labels=y)
    state, k = load_state_dict_bytes(result["state_dict"])  # the network pages' upload check
    assert k == 4
    from explorer.model import build_model

    model = build_model(state, k)
    probabilities = predict(model, x[0], CIFAR10_PREPROCESSING)
    with torch.no_grad():
        plain = torch.softmax(model(preprocess(x[0], CIFAR10_PREPROCESSING)).double(), 1)[0]
    assert np.allclose(probabilities, plain.numpy(), atol=1e-12)
    assert probabilities.shape == (4,) and probabilities.sum() == pytest.approx(1.0)
    # The whole network on a picture says what the head said on its cached features.
    held = result["held_out"]
    for i, said, p in zip(held["indices"], held["predicted"], held["probability"], strict=True):
        found = predict(model, x[i], CIFAR10_PREPROCESSING)
        assert int(found.argmax()) == said and found.max() == pytest.approx(p, abs=1e-5)


def test_features_are_the_networks_own_flatten_and_are_cached_by_content() -> None:
    x, y = pictures(2, 5)
    model = shipped_model("cifar10")
    features = conv_features(model, x, CIFAR10_PREPROCESSING)
    for i in (0, 7):
        acts = capture_activations(model, preprocess(x[i], CIFAR10_PREPROCESSING))
        # float32 through three convolutions, a batch of 10 against one picture: oneDNN picks
        # other kernels for each (and for each CPU), so sums differ by a few units in the 6th
        # digit (up to 4e-6 on an AMD EPYC): equal to float32's accuracy, not bit for bit.
        assert np.allclose(features[i], acts.stages["flatten"], rtol=1e-5, atol=1e-5)

    first, _ = run_job(base="cifar10", classes=["a", "b"], images=x, labels=y)
    assert first["computed"] == 10 and len(first["features"]) == 10
    assert np.allclose(np.stack(list(first["features"].values())), features, atol=1e-6)
    # Train again with one more picture: only that one is computed.
    more_x = np.concatenate([x, x[:1, ::-1]])  # a new picture (flipped upside down)
    again, events = run_job(
        base="cifar10",
        classes=["a", "b"],
        images=more_x,
        labels=[*y, 0],
        cached=first["features"],
    )
    assert again["computed"] == 1 and events[0]["total"] == 1
    # Features for another base are other features: the key names the base.
    mnist, _ = run_job(
        base="mnist", classes=["a", "b"], images=x, labels=y, cached=first["features"]
    )
    assert mnist["computed"] == 10


def test_the_held_out_split_keeps_one_in_five_of_every_class_and_at_least_one() -> None:
    counts = [5, 9, 10, 14, 23, 50]
    assert [held_out_count(n) for n in counts] == [1, 1, 2, 2, 4, 10]
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(1).shuffle(labels)
    train, held = held_out_split(labels, seed=5)
    assert sorted([*train, *held]) == list(range(len(labels)))
    assert not set(train) & set(held)
    assert list(held) == sorted(held) and list(train) == sorted(train)
    for c, n in enumerate(counts):
        assert np.sum(labels[held] == c) == max(1, n // 5)
        assert np.sum(labels[train] == c) == n - max(1, n // 5)
    again = held_out_split(labels, seed=5)
    assert np.array_equal(again[1], held)
    assert any(not np.array_equal(held_out_split(labels, s)[1], held) for s in (6, 7, 8))


def test_pictures_are_prepared_for_each_base_as_the_network_pages_do() -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    own = OwnImage.from_photo(photo, "camera")
    assert np.array_equal(own.for_base("cifar10"), photo_to_model_image(photo))
    assert np.array_equal(own.for_base("mnist"), photo_to_model_image(photo))
    drawing = np.zeros((280, 280, 3), dtype=np.uint8)
    drawing[60:220, 130:150] = 255
    drawn = OwnImage.from_drawing(drawing)
    assert np.array_equal(drawn.for_base("mnist"), digit_to_model_image(drawing))
    assert np.array_equal(drawn.for_base("cifar10"), photo_to_model_image(drawing))
    assert drawn.key("mnist") != drawn.key("cifar10") and drawn.id != own.id
    assert OwnImage.from_drawing(drawing).id == drawn.id  # the same picture, the same id
    with pytest.raises(ImageError):
        OwnImage.from_drawing(np.zeros((280, 280, 3), dtype=np.uint8))


# --------------------------------------------------------------------------------------------
# Classes that cannot be trained yet


def test_too_few_pictures_duplicate_names_and_too_many_classes_say_so() -> None:
    assert class_problems(["cat", "dog"], [5, 7]) == []
    assert check_classes([" cat  flap ", "dog"], [5, 5]) == ["cat flap", "dog"]
    said = class_problems(["cat", "dog"], [3, 5])
    assert said == [
        "“cat” has 3 pictures; every class needs at least 5 (one in 5 is kept aside to test "
        "the network)."
    ]
    said = class_problems(["Cat", "dog", "cat "], [5, 5, 5])
    assert said == ["Classes 1 and 3 are both called “cat”: give each class its own name."]
    said = class_problems([f"class {i}" for i in range(11)], [5] * 11)
    assert said == ["There are 11 classes; this page takes at most 10."]
    assert class_problems(["only"], [9]) == [
        "Make at least 2 classes: with 1 there is nothing to tell apart."
    ]
    assert "a class may have at most 50" in " ".join(class_problems(["a", "b"], [5, 51]))
    x, y = pictures(2, [3, 5])
    with pytest.raises(OwnImagesError, match="“a” has 3 pictures"):
        run_job(base="cifar10", classes=["a", "b"], images=x, labels=y)
    x, y = pictures(3, 5)
    with pytest.raises(OwnImagesError, match="Classes 1 and 3 are both called “A”"):
        run_job(base="cifar10", classes=["a", "b", "A"], images=x, labels=y)
    with pytest.raises(OwnImagesError, match="no base network called 'imagenet'"):
        run_job(base="imagenet", classes=["a", "b", "c"], images=x, labels=y)


@pytest.mark.parametrize(
    "name, words",
    [
        ("   ", "Class 2 has no name"),
        ("x" * 25, "has 25 characters; a class name may have at most 24"),
        ("**bold**", "Class 2's name has “*” in it"),
        ("a:material/home:", "“:”"),
        ("tab\there", None),  # a tab is a space: tidied away
        ("zero\u200bwidth", "an invisible character"),
        ("<b>", "“<”"),
    ],
)
def test_a_bad_name_gets_a_sentence_that_names_the_problem(name: str, words: str | None) -> None:
    if words is None:
        assert clean_name(name, 2) == "tab here"
        return
    with pytest.raises(OwnImagesError) as caught:
        clean_name(name, 2)
    assert words in str(caught.value)


def test_names_in_any_script_with_accents_and_simple_punctuation_are_fine() -> None:
    for name in ("chat noir", "Ärger", "猫", "thumbs-up!", "mum's mug (blue)", "R2-D2", "café"):
        assert clean_name(name, 1) == name
