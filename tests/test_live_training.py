"""The page's training job: reproducible, obeys its control, emits plain events, and returns
weights that load in plain PyTorch and score what it says they score."""

from __future__ import annotations

import dataclasses
import io
import pickle
from typing import Any

import numpy as np
import pytest
import torch

from explorer import live_training
from explorer.errors import UserError
from explorer.features import capture_activations, preprocess
from explorer.live_training import (
    ALL_IMAGES,
    STRIP_SIZE,
    SettingsError,
    TrainSettings,
    balanced_subset,
    strip_indices,
    train_bare,
    train_job,
)
from explorer.model import (
    MNIST_PREPROCESSING,
    WEIGHTS_DIR,
    SimpleCNN,
    available_devices,
    best_device,
    build_model,
    normalise,
)
from explorer.train import evaluate, mnist_to_32
from explorer.train_view import conv1_maps, progress_line, run_view
from explorer.training_data import FULL_DATA_ENV, load_training_set
from explorer.weights_file import load_state_dict_bytes
from tests.test_training_data import write_full_folder

# 20 batches of 20 in one epoch: a few seconds, yet enough steps to see the loss fall.
TINY = dataclasses.asdict(
    TrainSettings(
        dataset="mnist",
        images=400,
        epochs=1,
        batch=20,
        optimiser="adam",
        lr=2e-3,
        schedule="constant",
        augment=False,
        seed=0,
    )
)


class FakeClock:
    """Advances one second per reading: the events' pacing no longer depends on the machine,
    so two runs emit the very same events."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Stopped(Exception):
    """What the job queue's control raises at a checkpoint once the job is stopped."""


class CountingControl:
    def __init__(self, stop_at: int | None = None, stepping: bool = False) -> None:
        self.calls = 0
        self.stop_at = stop_at
        self.stepping = stepping

    def checkpoint(self) -> None:
        self.calls += 1
        if self.stop_at is not None and self.calls >= self.stop_at:
            raise Stopped("the job was stopped")


@pytest.fixture(autouse=True)
def rare_evaluations(monkeypatch) -> None:
    """The held-out set is evaluated at step 0 and at the epoch's end only (each evaluation runs
    2,000 digits forward, the bulk of these tests' time)."""
    monkeypatch.setattr(live_training, "HELD_OUT_EVERY_S", 1e9)


def run_job(settings: dict, control: CountingControl | None = None) -> tuple[list, dict, int]:
    control = control or CountingControl()
    events: list[dict] = []
    result = train_job(control, events.append, settings, clock=FakeClock())
    return events, result, control.calls


@pytest.fixture(scope="module")
def tiny_runs() -> tuple:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_training, "HELD_OUT_EVERY_S", 1e9)
        return run_job(TINY), run_job(TINY)


def held_out_accuracy(model: torch.nn.Module, dataset: str) -> float:
    data = load_training_set(dataset)
    x = normalise(torch.from_numpy(np.array(data.held_x)), data.preprocessing)
    return float((evaluate(model, x) == data.held_y).mean())


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


def test_the_same_settings_give_the_same_events_and_weights(tiny_runs) -> None:
    (events_a, result_a, _), (events_b, result_b, _) = tiny_runs
    assert len(events_a) == len(events_b)
    assert all(same(a, b) for a, b in zip(events_a, events_b, strict=True))
    assert result_a["state_dict"] == result_b["state_dict"]
    assert result_a["held_out_accuracy"] == result_b["held_out_accuracy"]


def test_the_bare_loop_learns_the_same_weights(tiny_runs) -> None:
    (_, result, _), _ = tiny_runs
    model, seconds = train_bare(TINY)
    state = torch.load(io.BytesIO(result["state_dict"]), weights_only=True)
    assert seconds > 0 and not model.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_the_training_loss_falls(tiny_runs) -> None:
    (events, _, _), _ = tiny_runs
    losses = [e["loss"] for e in events if e["kind"] == "train"]
    assert len(losses) == 20  # one a step: the fake clock says a second passes each step
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    held = [e for e in events if e["kind"] == "held_out"]
    assert [e["step"] for e in held] == [0, 20]
    assert held[-1]["loss"] < held[0]["loss"] and held[-1]["accuracy"] > held[0]["accuracy"]


def test_checkpoint_is_called_once_before_every_batch(tiny_runs) -> None:
    (events, result, calls), _ = tiny_runs
    assert calls == result["steps"] == 20
    progress = [e for e in events if e["kind"] == "progress"]
    assert progress[0]["step"] == 0 and progress[-1]["step"] == progress[-1]["steps"] == 20
    assert progress[-1]["images_seen"] == 400 and progress[-1]["epoch"] == 1.0


def test_events_are_plain_picklable_data_with_their_shapes(tiny_runs) -> None:
    (events, _, _), _ = tiny_runs
    pickle.dumps(events)

    def no_tensors(value: object) -> bool:
        if isinstance(value, dict):
            return all(no_tensors(v) for v in value.values())
        if isinstance(value, list | tuple):
            return all(no_tensors(v) for v in value)
        return not isinstance(value, torch.Tensor)

    assert all(no_tensors(e) for e in events)
    kinds = {e["kind"] for e in events}
    assert kinds == {"progress", "train", "held_out", "filters", "strip", "epoch"}
    snapshot = next(e for e in events if e["kind"] == "filters")
    filters, bias = snapshot["conv1"], snapshot["bias"]
    assert filters.shape == (32, 3, 3, 3) and filters.dtype == np.float32
    assert filters.flags.c_contiguous
    assert bias.shape == (32,) and bias.dtype == np.float32
    assert len(pickle.dumps(snapshot)) < 4_000  # a snapshot stays small: no maps in it
    strip = next(e for e in events if e["kind"] == "strip")
    assert len(strip["indices"]) == len(strip["predicted"]) == STRIP_SIZE
    assert all(0 < p <= 1 for p in strip["probability"])
    (epoch,) = [e for e in events if e["kind"] == "epoch"]
    assert epoch["epoch"] == 1 and epoch["confusion"].shape == (10, 10)
    assert epoch["confusion"].sum() == 2_000
    last_held = [e for e in events if e["kind"] == "held_out"][-1]
    assert epoch["accuracy"] == last_held["accuracy"]
    np.testing.assert_allclose(
        epoch["per_class"], np.diag(epoch["confusion"]) / epoch["confusion"].sum(1)
    )


def test_every_progress_event_names_where_the_run_trains(tiny_runs) -> None:
    (events, _, _), _ = tiny_runs
    named = {e["device"] for e in events if e["kind"] == "progress"}
    threads = torch.get_num_threads()
    best = best_device()
    want = best.name if best.device != "cpu" else f"the CPU ({threads} thread"
    assert len(named) == 1 and next(iter(named)).startswith(want), named
    view = run_view([e for e in events if e["kind"] == "progress"][-1:])
    assert progress_line(view, "running").endswith(f"training on {next(iter(named))}")


def test_a_device_the_machine_lacks_is_a_sentence() -> None:
    missing = next(
        d for d in ("cuda", "mps", "tpu") if d not in {x.device for x in available_devices()}
    )
    with pytest.raises(SettingsError, match=f"no '{missing}' device"):
        train_job(CountingControl(), lambda e: None, TINY, device=missing)


def test_the_returned_weights_load_in_plain_pytorch_and_score_as_reported(tiny_runs) -> None:
    (_, result, _), _ = tiny_runs
    state = torch.load(io.BytesIO(result["state_dict"]), weights_only=True)
    model = SimpleCNN(10)
    model.load_state_dict(state)
    assert held_out_accuracy(model, "mnist") == result["held_out_accuracy"]
    assert result["dataset"] == "mnist" and result["classes"] == [str(d) for d in range(10)]
    load_state_dict_bytes(result["state_dict"])  # the pages' upload accepts it too


def test_the_maps_of_a_snapshot_are_the_networks_own_conv1_maps(tiny_runs) -> None:
    """The page computes the watched image's maps from a snapshot: at the last step they are
    the trained network's conv1 maps (the returned weights, run by features.capture_activations);
    at step 0 those of the seeded random start."""
    (events, result, _), _ = tiny_runs
    snapshots = run_view(events).filters
    data = load_training_set("mnist")
    trained = SimpleCNN(10)
    trained.load_state_dict(torch.load(io.BytesIO(result["state_dict"]), weights_only=True))
    start = build_model(None, 10, seed=TINY["seed"])
    for snapshot, model in ((snapshots[-1], trained.eval()), (snapshots[0], start)):
        for i in (0, 7, 1_999):
            image = data.held_x[i]  # 3×32×32, as the page holds it
            maps = conv1_maps(snapshot, image, data.preprocessing)
            x = preprocess(image.transpose(1, 2, 0), data.preprocessing)
            expected = capture_activations(model, x).stages["conv1"]
            assert maps.shape == (32, 32, 32) and maps.dtype == np.float32
            np.testing.assert_allclose(maps, expected, rtol=0, atol=1e-5)
            np.testing.assert_array_equal(  # an H×W×3 image gives the same maps
                maps, conv1_maps(snapshot, image.transpose(1, 2, 0), data.preprocessing)
            )
    assert snapshots[0].step == 0 and snapshots[-1].step == result["steps"]
    assert not np.allclose(snapshots[0].conv1, snapshots[-1].conv1)


def test_every_image_chosen_is_the_loaded_set_itself_not_a_copy() -> None:
    data = load_training_set("mnist")
    with live_training._seeded(0):
        everything = live_training._prepare(TrainSettings(), "cpu")
        some = live_training._prepare(TrainSettings(images=500), "cpu")
    assert np.shares_memory(everything.x.numpy(), data.train_x)
    assert not np.shares_memory(some.x.numpy(), data.train_x) and len(some.x) == 500


def test_a_full_data_run_trains_on_the_servers_folder(tmp_path, monkeypatch) -> None:
    made = write_full_folder(tmp_path / "data")
    monkeypatch.setenv(FULL_DATA_ENV, str(made.root))
    settings = TINY | {"full_data": True, "images": ALL_IMAGES, "batch": 16}
    events, result, calls = run_job(settings)
    assert calls == result["steps"] == 2  # 30 digits in batches of 16
    assert [e for e in events if e["kind"] == "progress"][-1]["images_seen"] == 30
    (epoch,) = [e for e in events if e["kind"] == "epoch"]
    assert epoch["confusion"].sum() == 12  # the folder's 12 test digits are the held-out set
    model = SimpleCNN(10)
    model.load_state_dict(torch.load(io.BytesIO(result["state_dict"]), weights_only=True))
    x = normalise(torch.from_numpy(mnist_to_32(made.mnist_test[0])), MNIST_PREPROCESSING)
    assert result["held_out_accuracy"] == float((evaluate(model, x) == made.mnist_test[1]).mean())
    with pytest.raises(SettingsError, match="between 50 and 30"):
        run_job(settings | {"images": 100})


def test_the_full_data_on_a_server_without_them_is_a_sentence(monkeypatch) -> None:
    monkeypatch.delenv(FULL_DATA_ENV, raising=False)
    with pytest.raises(UserError, match="no full copy of the MNIST digits") as caught:
        train_job(CountingControl(), lambda e: None, TINY | {"full_data": True})
    assert str(caught.value).endswith(".")


def test_a_stop_ends_the_run_without_a_result_and_stepping_reports_every_step() -> None:
    deterministic = torch.are_deterministic_algorithms_enabled()
    events: list[dict] = []
    control = CountingControl(stop_at=2, stepping=True)
    with pytest.raises(Stopped):
        train_job(control, events.append, TINY, clock=FakeClock())
    assert control.calls == 2
    for kind in ("progress", "held_out", "filters", "strip"):
        assert [e["step"] for e in events if e["kind"] == kind] == [0, 1], kind
    assert [e["step"] for e in events if e["kind"] == "train"] == [1]
    # the process-wide state is as before (train_job seeds torch and NumPy, then puts them back)
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_starting_from_the_shipped_weights_starts_at_their_accuracy() -> None:
    shipped = TINY | {"start": "shipped"}
    events: list[dict] = []
    with pytest.raises(Stopped):  # stop before the first batch: step 0 only
        train_job(CountingControl(stop_at=1), events.append, shipped, clock=FakeClock())
    first = next(e for e in events if e["kind"] == "held_out")
    model = SimpleCNN(10)
    model.load_state_dict(
        torch.load(WEIGHTS_DIR / "simplecnn-mnist.pt", map_location="cpu", weights_only=True)
    )
    assert first["step"] == 0
    assert first["accuracy"] == held_out_accuracy(model, "mnist")
    filters = next(e for e in events if e["kind"] == "filters")["conv1"]
    np.testing.assert_array_equal(filters, model.conv1.weight.detach().numpy())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"dataset": "imagenet"}, "data set 'imagenet'"),
        ({"images": 10}, "between 50 and 10,000"),
        ({"images": 20_000}, "between 50 and 10,000"),
        ({"images": 100.5}, "whole number"),
        ({"epochs": 0}, "number of epochs"),
        ({"epochs": 31}, "number of epochs"),
        ({"batch": 8}, "batch size"),
        ({"optimiser": "rmsprop"}, "optimiser"),
        ({"lr": 0.0}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": "fast"}, "learning rate"),
        ({"schedule": "cosine"}, "schedule"),
        ({"weight_decay": -1.0}, "weight decay"),
        ({"augment": "yes"}, "on or off"),
        ({"full_data": "yes"}, "full data set is either used or not"),
        ({"start": "imagenet"}, "start"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"colour": "red"}, "Unknown training setting"),
    ],
)
def test_bad_settings_are_a_sentence(change: dict, words: str) -> None:
    events: list[dict] = []
    with pytest.raises(SettingsError, match=words) as caught:
        train_job(CountingControl(), events.append, TINY | change)
    assert isinstance(caught.value, UserError) and str(caught.value).endswith(".")
    assert events == []


def test_held_out_evaluations_take_at_most_a_fifth_of_the_time(monkeypatch) -> None:
    monkeypatch.setattr(live_training, "HELD_OUT_EVERY_S", 2.0)  # undo rare_evaluations
    assert live_training.held_out_interval(0.1) == 2.0
    assert live_training.held_out_interval(1.0) == pytest.approx(4.0)  # 1 s in every 5


def test_the_defaults_are_valid_and_missing_settings_take_them() -> None:
    assert TrainSettings.from_dict({}) == TrainSettings()
    assert TrainSettings.from_dict({"dataset": "cifar10", "images": 5_000}).images == 5_000


def test_a_subset_is_balanced_seeded_and_all_means_all() -> None:
    labels = load_training_set("mnist").train_y
    chosen = balanced_subset(labels, 205, seed=1)
    counts = np.bincount(labels[chosen], minlength=10)
    assert len(np.unique(chosen)) == 205 and sorted(set(counts)) == [20, 21]
    assert np.array_equal(chosen, balanced_subset(labels, 205, seed=1))
    assert not np.array_equal(chosen, balanced_subset(labels, 205, seed=2))
    assert np.array_equal(balanced_subset(labels, len(labels), seed=1), np.arange(len(labels)))


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_the_strip_shows_every_class_and_stays_put(dataset: str) -> None:
    held_y = load_training_set(dataset).held_y
    strip = strip_indices(held_y)
    assert len(strip) == STRIP_SIZE == len(set(strip.tolist()))
    assert set(held_y[strip]) == set(range(10))
    counts = np.bincount(held_y[strip], minlength=10)
    assert counts.max() == 2 and (np.diff(held_y[strip]) >= 0).all()  # ordered by class
    assert np.array_equal(strip, strip_indices(held_y))


def test_the_live_runs_and_the_replays_curves_share_one_figure() -> None:
    """train_view.loss_accuracy_figure draws both pages' curves: each line's numbers (accuracy
    in %), training solid blue and held-out dashed red, and the replay's fixed axes and mark."""
    from explorer.train_view import Curve, loss_accuracy_figure

    curves = [
        Curve("training images", "train", [1, 2], [2.0, 1.5], [0.25, 0.5]),
        Curve("held-out images", "held_out", [0, 1, 2], [2.3, 1.9, 1.6], [0.1, 0.3, 0.45]),
    ]
    fig = loss_accuracy_figure(
        curves, "epoch", height=280, marker_size=5, x_range=(-0.5, 2.5), loss_top=2.5, mark_x=1
    ).to_dict()
    traces = {(t["name"], t["xaxis"]): t for t in fig["data"]}
    assert traces[("training images", "x")]["y"] == [2.0, 1.5]
    assert traces[("training images", "x2")]["y"] == [25.0, 50.0]
    assert traces[("held-out images", "x2")]["y"] == pytest.approx([10.0, 30.0, 45.0])
    assert traces[("held-out images", "x")]["x"] == [0, 1, 2]
    assert traces[("held-out images", "x")]["line"] == {"color": "#d62728", "dash": "dash"}
    assert traces[("training images", "x")]["line"] == {"color": "#1f77b4", "dash": "solid"}
    layout = fig["layout"]
    assert layout["xaxis"]["range"] == [-0.5, 2.5] and layout["yaxis"]["range"] == [0, 2.5]
    assert layout["yaxis2"]["range"] == [0, 100]
    assert [s["x0"] for s in layout["shapes"]] == [1, 1]  # the epoch shown, in both panels
