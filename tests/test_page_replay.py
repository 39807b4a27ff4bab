"""AppTest of the replay (explorer/ui/replay.py ``show_replay``) on a tiny page: the scrubber,
the epoch in the link, and every number, caption and picture a student reads at an epoch
against the shipped record read here with plain ``np.load`` — and, at the last epoch, the
filters against the shipped weights' conv1 themselves."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.model import WEIGHTS_DIR
from explorer.replay import REPLAY_DIR
from tests.screen import shown

TIMEOUT = 60
SHIPPED = sorted(REPLAY_DIR.glob("*.replay.npz"))


def page(dataset: str) -> None:
    import streamlit as st

    from explorer.ui.replay import show_replay

    st.title("Replay")
    show_replay(dataset)


def open_replay(dataset: str, **params: str) -> AppTest:
    at = AppTest.from_function(page, args=(dataset,), default_timeout=TIMEOUT)
    at.query_params.update(params)
    return at.run()


def record(dataset: str) -> dict[str, np.ndarray]:
    with np.load(REPLAY_DIR / f"simplecnn-{dataset}.replay.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def dataset_of(path: Path) -> str:
    return path.name.removeprefix("simplecnn-").removesuffix(".replay.npz")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def filter_patches(picture: np.ndarray, tile: int = 36, gap: int = 4) -> np.ndarray:
    """The 32 filters' 3×3 colours read back from the montage (16 a row): each weight's square
    is ``tile/3`` px; its centre pixel is the weight's colour."""
    cell = tile // 3
    out = np.zeros((32, 3, 3, 3), dtype=np.int64)
    for f in range(32):
        r, c = divmod(f, 16)
        y0, x0 = r * (tile + gap), c * (tile + gap)
        for i in range(3):
            for j in range(3):
                out[f, i, j] = picture[y0 + i * cell + cell // 2, x0 + j * cell + cell // 2]
    return out


def by_hand(conv1: np.ndarray) -> np.ndarray:
    """conv1 (32×3×3×3) as colour patches: ``128 + 127·w/max|w|`` per filter, rounded."""
    w = conv1.astype(np.float64)
    m = np.abs(w).reshape(32, -1).max(axis=1)[:, None, None, None]
    return np.clip(np.rint(128 + 127 * w / m), 0, 255).astype(np.int64).transpose(0, 2, 3, 1)


def the_picture(at: AppTest, media: dict[str, bytes], alt: str) -> np.ndarray:
    found = [i.proto.imgs[0] for i in at.get("image") if i.proto.imgs[0].alt.startswith(alt)]
    assert len(found) == 1, [i.proto.imgs[0].alt for i in at.get("image")]
    return np.asarray(Image.open(io.BytesIO(media[found[0].url])).convert("RGB")).astype(int)


def check_epoch(at: AppTest, dataset: str, epoch: int, media: dict[str, bytes]) -> None:
    """Everything the replay shows at ``epoch`` is the record's."""
    z = record(dataset)
    assert not at.exception, at.exception
    assert at.slider(key="replay_epoch").value == epoch
    shown_metrics = metrics(at)
    right = z["heldout_pred"][epoch] == z["heldout_labels"]
    assert shown_metrics["Held-out accuracy"] == pct(right.mean())
    from explorer.numbers import format_value

    assert shown_metrics["Held-out loss"] == format_value(z["heldout_loss"][epoch])
    if epoch == 0:
        assert shown_metrics["Training accuracy"] == shown_metrics["Training loss"] == "—"
    else:
        assert shown_metrics["Training accuracy"] == pct(z["curve_train_accuracy"][epoch - 1])
        assert shown_metrics["Training loss"] == format_value(z["curve_loss"][epoch - 1])
    classes = z["classes"].tolist()
    probs = z["gallery_probs"][epoch]
    said = probs.argmax(1)
    expected = [
        f"{'✓' if s == label else '✗'} {classes[s]} {pct(p[s])}"
        for s, p, label in zip(said, probs, z["gallery_labels"], strict=True)
    ]
    cells = [i.proto.imgs[0] for i in at.get("image") if i.proto.imgs[0].caption]
    assert [c.caption for c in cells] == expected
    wrong = int((said != z["gallery_labels"]).sum())
    heading = f"**What it says about the {len(said)} gallery images at epoch {epoch}** ({wrong}"
    assert any(m.value.startswith(heading) for m in at.markdown)
    # A wrong answer's picture has a red frame; a right one's does not.
    for cell, s, label in zip(cells, said, z["gallery_labels"], strict=True):
        assert cell.alt == f"A {classes[label]}; at epoch {epoch} the network says {classes[s]}"
        pic = np.asarray(Image.open(io.BytesIO(media[cell.url])).convert("RGB"))
        assert (pic[0] == (220, 30, 30)).all() == (s != label)
    filters = the_picture(at, media, f"conv1's 32 filters as colour patches at epoch {epoch}")
    np.testing.assert_array_equal(filter_patches(filters), by_hand(z["conv1"][epoch]))
    chart = next(c for c in at.get("plotly_chart") if "replay_curves" in c.proto.id)
    traces = json.loads(chart.proto.spec)["data"]
    held = [t for t in traces if t["name"] == "held-out images"]
    assert held[1]["y"] == pytest.approx((right_all(z)[: epoch + 1] * 100).tolist())
    train = [t for t in traces if t["name"] == "training images"]
    assert train[0]["y"] == pytest.approx(z["curve_loss"][:epoch].tolist())


def right_all(z: dict[str, np.ndarray]) -> np.ndarray:
    return (z["heldout_pred"] == z["heldout_labels"][None, :]).mean(axis=1)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_replay_shows_the_records_numbers_at_each_epoch(path: Path, media) -> None:
    dataset = dataset_of(path)
    last = len(record(dataset)["epochs"]) - 1
    at = open_replay(dataset)
    check_epoch(at, dataset, 0, media)  # the default: the random start
    z = record(dataset)
    meta = json.loads(str(z["meta_json"]))
    about = next(m.value for m in at.markdown if " epochs over " in m.value)
    assert (
        f"{last} epochs over {meta['train_images']:,} training images (batch "
        f"{meta['training']['batch_size']}, seed {meta['training']['seed']}), ending at "
        f"{pct(right_all(z)[-1])} on {len(z['heldout_labels']):,} held-out images." in about
    )
    assert "replay" not in at.query_params
    at.button(key="replay_next").click().run()
    check_epoch(at, dataset, 1, media)
    assert at.query_params["replay"] == "1"
    at.slider(key="replay_epoch").set_value(last).run()
    check_epoch(at, dataset, last, media)
    assert at.button(key="replay_next").disabled
    at.button(key="replay_back").click().run()
    check_epoch(at, dataset, last - 1, media)
    assert at.query_params["replay"] == str(last - 1)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_link_opens_an_epoch_and_a_bad_one_says_so(path: Path, media) -> None:
    dataset = dataset_of(path)
    last = len(record(dataset)["epochs"]) - 1
    at = open_replay(dataset, replay=str(last // 2))
    check_epoch(at, dataset, last // 2, media)
    at = open_replay(dataset, replay=str(last + 1))
    assert not at.exception
    said = [shown(w.value) for w in at.warning]
    assert said == [
        f"Ignored the link's replay='{last + 1}': it must be an epoch of the recorded "
        f"training from 0 to {last}."
    ]
    assert at.slider(key="replay_epoch").value == 0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_last_epochs_filters_are_the_shipped_networks_or_it_says_they_are_not(
    path: Path, media
) -> None:
    """The record is either the shipped weights' own run (its last filters are theirs) or a
    re-run of the same recipe, and then the page says so with both runs' test figures."""
    dataset = dataset_of(path)
    last = len(record(dataset)["epochs"]) - 1
    at = open_replay(dataset, replay=str(last))
    assert not at.exception
    meta = json.loads(str(record(dataset)["meta_json"]))
    card = json.loads((WEIGHTS_DIR / f"simplecnn-{dataset}.json").read_text())
    about = next(m.value for m in at.markdown if " epochs over " in m.value)
    filters = the_picture(at, media, f"conv1's 32 filters as colour patches at epoch {last}")
    if meta["weights_sha256"] == card["weights_sha256"]:
        assert about.startswith("The shipped ")
        sd = torch.load(WEIGHTS_DIR / f"simplecnn-{dataset}.pt", weights_only=True)
        np.testing.assert_array_equal(filter_patches(filters), by_hand(sd["conv1.weight"].numpy()))
    else:
        assert about.startswith("A recorded run of the shipped ")
        assert (
            f"on the weights card's test ({card['test_images_exact']:,} images) this run's "
            f"final weights score {pct(meta['test_accuracy'])}, the shipped ones "
            f"{pct(card['test_accuracy'])}" in about
        )
        z = record(dataset)
        np.testing.assert_array_equal(filter_patches(filters), by_hand(z["conv1"][last]))


def test_a_missing_record_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import explorer.replay

    monkeypatch.setattr(explorer.replay, "REPLAY_DIR", tmp_path)
    at = open_replay("mnist")
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "The recorded training of the mnist network is missing (simplecnn-mnist.replay.npz); "
        "see assets/README.md, “Replays”, to record it again."
    ]
