"""The replay of a training run: the recorder writes what a short seeded run computes (checked
epoch by epoch against plain PyTorch written out by hand), recording does not change the run,
the file reads back with clear sentences for broken ones, the epoch's link parameter, and the
shipped records describe the shipped networks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.errors import UserError
from explorer.links import LINK_PARAMS
from explorer.model import MNIST_PREPROCESSING, WEIGHTS_DIR
from explorer.replay import (
    REPLAY_DIR,
    REPLAY_PARAM,
    Recorder,
    ReplayState,
    gallery_items,
    load_replay,
    parse_replay,
    read_replay,
)
from explorer.samples import GALLERY_DIR, gallery
from explorer.train import Dataset, TrainConfig, make_recorder, mnist_to_32, train

TRAINING_DATA = Path(__file__).resolve().parent.parent / "assets" / "training" / "mnist.npz"
EPOCHS = 3


def tiny_mnist() -> Dataset:
    """192 training and 48 held-out digits of the app's own training data: seconds to train."""
    with np.load(TRAINING_DATA) as z:
        x_train, y_train = z["train_x"][:192], z["train_y"][:192].astype(np.int64)
        x_test, y_test = z["held_x"][:48], z["held_y"][:48].astype(np.int64)
    return Dataset(
        "mnist",
        tuple(str(d) for d in range(10)),
        mnist_to_32(x_train),
        y_train,
        mnist_to_32(x_test),
        y_test,
        np.ones(len(x_test), dtype=bool),
        "assets/training/mnist.npz (first digits)",
    )


CFG = TrainConfig(epochs=EPOCHS, batch_size=32, max_lr=0.05, augment="affine", threads=1)


def run(data: Dataset, on_epoch=None):  # noqa: ANN001, ANN201 — a test helper
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        return train(data, MNIST_PREPROCESSING, CFG, log=lambda _: None, on_epoch=on_epoch)
    finally:  # train() sets these process-wide; leave the other tests as they were
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny recorded run, with the state_dict of every epoch kept beside the recorder."""
    data = tiny_mnist()
    recorder = make_recorder(data, MNIST_PREPROCESSING)
    states: list[dict[str, torch.Tensor]] = []

    def hook(epoch: int, model: torch.nn.Module) -> None:
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        recorder(epoch, model)

    model, logs = run(data, hook)
    path = tmp_path_factory.mktemp("replay") / "simplecnn-mnist.replay.npz"
    curves = [{"epoch": e.epoch, "loss": e.loss, "train_accuracy": e.train_accuracy,
               "test_accuracy": e.test_accuracy, "seconds": e.seconds} for e in logs]  # fmt: skip
    recorder.save(path, curves, {"weights_sha256": "ab" * 32, "training": {"seed": 0}})
    return {"data": data, "model": model, "logs": logs, "states": states, "path": path}


# ------------------------------------------------------------------- plain PyTorch, by hand


def plain_forward(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """SimpleCNN's forward pass written out with torch.nn.functional (eval mode: no dropout)."""
    for conv in ("conv1", "conv2", "conv3"):
        x = F.conv2d(x, sd[f"{conv}.weight"], sd[f"{conv}.bias"], padding=1)
        x = F.max_pool2d(F.relu(x), 2)
    x = F.relu(F.linear(x.reshape(len(x), -1), sd["fc1.weight"], sd["fc1.bias"]))
    return F.linear(x, sd["fc2.weight"], sd["fc2.bias"])


def gallery_digits_by_hand() -> tuple[torch.Tensor, list[int], list[str]]:
    """The MNIST gallery PNGs, padded 28→32 with black, on 3 channels, normalised by hand."""
    entries = [e for e in json.loads((GALLERY_DIR / "index.json").read_text()) if
               e["dataset"] == "mnist"]  # fmt: skip
    images = []
    for e in entries:
        digit = np.array(Image.open(GALLERY_DIR / e["file"]).convert("L"), dtype=np.float32)
        padded = np.zeros((32, 32), dtype=np.float32)
        padded[2:30, 2:30] = digit
        images.append(np.stack([padded] * 3))
    x = (torch.from_numpy(np.stack(images)) / 255.0 - 0.1307) / 0.3081
    return x, [int(e["label"]) for e in entries], [e["key"] for e in entries]


def raw(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ------------------------------------------------------------------------------ the recorder


def test_the_record_holds_every_epochs_filters_as_the_run_had_them(recorded) -> None:
    z = raw(recorded["path"])
    assert z["epochs"].tolist() == list(range(EPOCHS + 1))
    assert z["conv1"].shape == (EPOCHS + 1, 32, 3, 3, 3)
    for epoch, sd in enumerate(recorded["states"]):
        np.testing.assert_array_equal(z["conv1"][epoch], sd["conv1.weight"].numpy())
    # the last snapshot is the trained network the trainer returns
    np.testing.assert_array_equal(z["conv1"][-1], recorded["model"].conv1.weight.detach().numpy())
    assert not np.array_equal(z["conv1"][0], z["conv1"][-1])  # it did learn


def test_the_gallery_answers_are_plain_pytorchs_at_every_epoch(recorded) -> None:
    z = raw(recorded["path"])
    x, labels, keys = gallery_digits_by_hand()
    assert z["gallery_keys"].tolist() == keys and z["gallery_labels"].tolist() == labels
    for epoch, sd in enumerate(recorded["states"]):
        with torch.no_grad():
            expected = torch.softmax(plain_forward(sd, x), dim=1).numpy()
        np.testing.assert_allclose(z["gallery_probs"][epoch], expected, rtol=1e-5, atol=1e-6)


def test_the_held_out_answers_and_loss_are_plain_pytorchs(recorded) -> None:
    z = raw(recorded["path"])
    data = recorded["data"]
    x = (torch.from_numpy(data.x_test).float() / 255.0 - 0.1307) / 0.3081
    assert z["heldout_labels"].tolist() == data.y_test.tolist()
    for epoch, sd in enumerate(recorded["states"]):
        with torch.no_grad():
            logits = plain_forward(sd, x)
        assert z["heldout_pred"][epoch].tolist() == logits.argmax(1).tolist()
        loss = float(F.cross_entropy(logits, torch.from_numpy(data.y_test)))
        assert z["heldout_loss"][epoch] == pytest.approx(loss, rel=1e-5)


def test_the_curves_are_the_trainers_log_and_agree_with_the_answers(recorded) -> None:
    z = raw(recorded["path"])
    logs = recorded["logs"]
    for name in ("loss", "train_accuracy", "test_accuracy", "seconds"):
        assert z[f"curve_{name}"].tolist() == [getattr(e, name) for e in logs]
    # the trainer's held-out accuracy after each epoch is the recorded answers' accuracy
    right = (z["heldout_pred"] == z["heldout_labels"][None, :]).mean(axis=1)
    assert right[1:].tolist() == [e.test_accuracy for e in logs]
    assert json.loads(str(z["meta_json"]))["weights_sha256"] == "ab" * 32


def test_recording_does_not_change_the_trained_weights(recorded) -> None:
    model, _ = run(recorded["data"])
    for name, value in model.state_dict().items():
        assert torch.equal(value, recorded["model"].state_dict()[name]), name


def test_the_recorder_refuses_curves_of_other_epochs(recorded) -> None:
    data = recorded["data"]
    recorder = Recorder("mnist", ["0", "1"], torch.zeros(0, 3, 32, 32), np.zeros(0), [],
                        torch.zeros(2, 3, 32, 32), np.zeros(2))  # fmt: skip
    model = recorded["model"]
    recorder(0, model)
    recorder(1, model)
    curve = {"loss": 1.0, "train_accuracy": 0.5, "test_accuracy": 0.5, "seconds": 1.0}
    with pytest.raises(ValueError, match="different epochs"):
        recorder.arrays([{"epoch": 2, **curve}], {})
    assert recorder.arrays([{"epoch": 1, **curve}], {})["conv1"].shape == (2, 32, 3, 3, 3)
    with pytest.raises(ValueError, match="differ in number"):
        Recorder("mnist", ["0"], torch.zeros(1, 3, 32, 32), np.zeros(2), ["a"],
                 data.x_test, data.y_test)  # fmt: skip


# ------------------------------------------------------------------------------ the reader


def test_the_replay_reads_back_what_was_recorded(recorded) -> None:
    z = raw(recorded["path"])
    replay = parse_replay("mnist", recorded["path"].read_bytes())
    assert replay.last_epoch == EPOCHS and replay.classes == tuple(str(d) for d in range(10))
    assert [i.key for i in gallery_items(replay)] == z["gallery_keys"].tolist()
    for epoch in range(EPOCHS + 1):
        view = replay.at(epoch)
        probs = z["gallery_probs"][epoch]
        assert view.predicted.tolist() == probs.argmax(1).tolist()
        assert view.confidence.tolist() == probs.max(1).tolist()
        assert view.correct.tolist() == (probs.argmax(1) == z["gallery_labels"]).tolist()
        right = z["heldout_pred"][epoch] == z["heldout_labels"]
        assert view.heldout_accuracy == right.mean()
        assert view.heldout_loss == z["heldout_loss"][epoch]
        if epoch == 0:
            assert view.train_loss is None and view.train_accuracy is None
        else:
            assert view.train_loss == z["curve_loss"][epoch - 1]
            assert view.train_accuracy == z["curve_train_accuracy"][epoch - 1]
        assert view.train_curve[0].tolist() == z["curve_loss"][:epoch].tolist()
        assert len(view.heldout_curve[1]) == epoch + 1
    with pytest.raises(ValueError):
        replay.at(EPOCHS + 1)
    assert not replay.conv1.flags.writeable  # shared by every session: read-only


def _saved(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_broken_record_gets_a_sentence(recorded, tmp_path: Path) -> None:
    z = raw(recorded["path"])
    with pytest.raises(UserError, match="is missing"):
        load_replay("mnist", tmp_path)
    (tmp_path / "simplecnn-mnist.replay.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot be read: it is not an .npz file"):
        load_replay("mnist", tmp_path)
    without = {k: v for k, v in z.items() if k != "conv1"}
    with pytest.raises(UserError, match="it lacks conv1"):
        parse_replay("mnist", _saved(without))
    with pytest.raises(UserError, match=r"its gallery_probs is \(4, 20, 9\)"):
        parse_replay("mnist", _saved(z | {"gallery_probs": z["gallery_probs"][:, :, :9]}))
    with pytest.raises(UserError, match="of a mnist network"):
        parse_replay("cifar10", recorded["path"].read_bytes())
    renamed = parse_replay("mnist", _saved(z | {"gallery_keys": np.array(["x"] * 20)}))
    with pytest.raises(UserError, match="not in assets/gallery"):
        gallery_items(renamed)
    with pytest.raises(ValueError, match="format 7"):
        read_replay(_saved(z | {"format_version": np.array(7)}))


# -------------------------------------------------------------------------------- the link


def test_the_epoch_travels_in_the_link() -> None:
    assert LINK_PARAMS[REPLAY_PARAM] == "replay"
    assert ReplayState().to_query() == {}
    state, warnings = ReplayState.from_query({"replay": "7"}, last_epoch=12)
    assert state.epoch == 7 and not warnings and state.to_query() == {"replay": "7"}
    assert ReplayState.from_query(state.to_query(), 12)[0] == state
    assert state.shown_epoch(5) == 5  # a shorter record shows its last epoch
    for bad in ("13", "-1", "two", "³"):
        state, warnings = ReplayState.from_query({"replay": bad}, 12, ReplayState(3))
        assert state.epoch == 3
        assert warnings == [
            f"Ignored the link's replay={bad!r}: it must be an epoch of the recorded training "
            "from 0 to 12."
        ]
    with pytest.raises(ValueError):
        ReplayState().choose("epoch", -1)
    with pytest.raises(ValueError):
        ReplayState().choose("epoch", True)


# ------------------------------------------------------------------- the shipped records


SHIPPED = sorted(REPLAY_DIR.glob("*.replay.npz"))


def test_the_shipped_records_stay_small() -> None:
    assert {p.name for p in SHIPPED} >= {"simplecnn-mnist.replay.npz"}
    assert sum(p.stat().st_size for p in REPLAY_DIR.iterdir()) < 10 * 2**20


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_record_is_the_shipped_networks_training(path: Path) -> None:
    dataset = path.name.removeprefix("simplecnn-").removesuffix(".replay.npz")
    replay = load_replay(dataset)
    card = json.loads((WEIGHTS_DIR / f"simplecnn-{dataset}.json").read_text())
    assert replay.last_epoch == card["training"]["epochs"] == len(card["epochs_log"])
    assert replay.meta["training"] == card["training"]  # the same recipe, seed included
    if replay.meta["weights_sha256"] != card["weights_sha256"]:
        # A re-run of that recipe (CPU threads do not repeat bit for bit): the Train page says
        # so with both runs' figures (tests/test_page_replay.py); the record is still its own
        # run's, epoch for epoch.
        assert replay.heldout_accuracy()[-1] == pytest.approx(card["test_accuracy"], abs=0.02)
        return
    # The record was made by the run that wrote the shipped weights, byte for byte …
    for name in ("loss", "train_accuracy", "test_accuracy"):
        assert replay.curves[name].tolist() == [e[name] for e in card["epochs_log"]]
    # … so its last epoch is the shipped network: its filters, and plain PyTorch's answers.
    sd = torch.load(WEIGHTS_DIR / f"simplecnn-{dataset}.pt", weights_only=True)
    np.testing.assert_array_equal(replay.conv1[-1], sd["conv1.weight"].numpy())
    items = gallery(dataset)
    assert list(replay.gallery_keys) == [i.key for i in items]
    from explorer.model import CIFAR10_PREPROCESSING
    from explorer.samples import load_gallery_image

    pre = MNIST_PREPROCESSING if dataset == "mnist" else CIFAR10_PREPROCESSING
    x = np.stack([load_gallery_image(i) for i in items]).transpose(0, 3, 1, 2)
    mean, std = np.array(pre.mean)[:, None, None], np.array(pre.std)[:, None, None]
    x = torch.from_numpy(((x / 255.0 - mean) / std).astype(np.float32))
    with torch.no_grad():
        expected = torch.softmax(plain_forward(sd, x), dim=1).numpy()
    np.testing.assert_allclose(replay.gallery_probs[-1], expected, rtol=1e-4, atol=1e-6)
    assert replay.heldout_accuracy()[-1] == card["test_accuracy"]
