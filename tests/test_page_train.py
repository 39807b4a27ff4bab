"""AppTest of "Train it yourself": the link sets every choice, the controls come before the
settings, a tiny run goes from Start to "Finished" in a worker process with its curves,
filters, the maps of a watched image (held-out or the session's own input), strip and confusion
matrix, and the network it made becomes "Your network (trained here)" on Feature maps — where
its answer is the one plain PyTorch gives with the downloaded state_dict. The page says which
data it trains on (the shipped subset or the server's full copy), and its queue stops the runs
of sessions that have gone."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.model import MNIST_PREPROCESSING, SimpleCNN
from explorer.samples import gallery, load_gallery_image
from explorer.training_data import FULL_DATA_ENV, load_held_out
from tests.screen import shown
from tests.test_training_data import write_full_folder

TIMEOUT = 120
TINY = {"n": "200", "ep": "1", "bs": "64"}  # 4 steps: seconds, not minutes


def open_train(**params: str) -> AppTest:
    """The Train page opened by a link with ``params`` (the app's navigation has run first, as
    on the server; the home page keeps only its own address, so the link is set after it)."""
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page("pages/train.py")
    return at.run()


def finish(at: AppTest, limit_s: float = 150.0) -> None:
    """Rerun as the live panel would, until the run has finished."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if any(b.key == "train_use" for b in at.button):
            # The run may have ended during that run, after its progress was drawn: the page
            # reruns then (as the live panel does) and shows it finished.
            at.run()
            assert not at.exception, at.exception
            return
        time.sleep(1.0)
    raise AssertionError(f"the run did not finish: {[p.proto.text for p in at.get('progress')]}")


def plain_model(state_dict: bytes) -> SimpleCNN:
    model = SimpleCNN()
    model.load_state_dict(torch.load(io.BytesIO(state_dict), weights_only=True))
    return model.eval()


def plain_input(image_hwc: np.ndarray) -> torch.Tensor:
    """A 32×32×3 uint8 digit normalised by hand, as the MNIST network was trained."""
    x = torch.from_numpy(image_hwc.astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(MNIST_PREPROCESSING.mean).view(3, 1, 1)
    std = torch.tensor(MNIST_PREPROCESSING.std).view(3, 1, 1)
    return ((x - mean) / std)[None]


def legend_bound(at: AppTest) -> float:
    """The largest |value| the maps' colour legend names ("blue -x · white 0 · red x")."""
    caption = next(c.value for c in at.caption if c.value.startswith("Map i is filter i"))
    low, high = re.search(r"blue (\S+) · white 0 · red (\S+),", caption).groups()  # type: ignore[union-attr]
    low = low.replace("−", "-")  # written with a true minus
    assert float(low) == -float(high)
    return float(high)


def test_the_link_sets_every_choice_and_bad_values_say_so() -> None:
    at = open_train(data="cifar10", n="500", ep="3", opt="sgd", lr="0.01", seed="42", bs="huge")
    assert not at.exception
    assert at.selectbox(key="train_dataset").value == "cifar10"
    assert at.selectbox(key="train_images").value == 500
    assert at.selectbox(key="train_epochs").value == 3
    assert at.selectbox(key="train_optimiser").value == "sgd"
    assert at.selectbox(key="train_lr").value == 0.01
    assert at.number_input(key="train_seed").value == 42
    said = [shown(w.value) for w in at.warning]
    assert any("Ignored the link's bs='huge'" in w for w in said), said
    assert any("CIFAR-10" in c.value and "held-out" in c.value for c in at.caption)
    summary = next(m.value for m in at.markdown if m.value.startswith("**This run:**"))
    assert "CIFAR-10 photos, 500 training images · 3 epochs in batches of 64" in summary
    assert "SGD with momentum at 0.01, one-cycle" in summary and "seed 42" in summary


def test_the_controls_come_before_the_folded_settings() -> None:
    """On a phone the columns stack: the buttons must not sit below eleven settings."""
    at = open_train()
    order = [
        "start" if getattr(e, "key", None) == "train_run_start" else "settings"
        for e in at.main
        if getattr(e, "key", None) == "train_run_start" or getattr(e, "type", "") == "expander"
    ]
    assert order == ["start", "settings"], order
    (expander,) = [e for e in at.main if getattr(e, "type", "") == "expander"]
    assert not expander.proto.expanded and expander.label == "Settings"
    assert expander.selectbox(key="train_dataset").value == "mnist"  # the settings are in it
    summary = next(m.value for m in at.markdown if m.value.startswith("**This run:**"))
    data = load_held_out("mnist")
    assert f"MNIST digits, all {data.train_count:,} training images" in summary
    assert any(c.value == f"Data: {data.source}" for c in at.caption)
    assert "ships with the app" in data.source


def test_a_tiny_run_trains_and_becomes_your_network(navigation_has_run) -> None:
    at = open_train(**TINY)
    at.button(key="train_run_start").click().run()
    assert not at.exception
    finish(at)
    progress = [p.proto.text for p in at.get("progress")]
    assert progress and progress[0].startswith("Finished. Step 4 of 4")
    assert any(c.proto.id and "train_curves" in c.proto.id for c in at.get("plotly_chart"))
    assert any(m.value == "**conv1's 32 filters at step 4**" for m in at.markdown)
    assert any(m.value == "**The maps they make of one image at step 4**" for m in at.markdown)
    assert any(
        m.value.startswith("**What it says now about 16 held-out images") for m in at.markdown
    )
    assert any(m.value.startswith("**After epoch 1") for m in at.markdown)
    accuracy = next(m.value for m in at.markdown if m.value.startswith("Held-out accuracy:"))

    # The network the run made, read back from its own job, in plain PyTorch.
    from explorer.ui import train

    job = train.job_queue().get(at.session_state["train_job"])
    model = plain_model(job.result["state_dict"])
    assert f"{job.result['held_out_accuracy']:.1%}" in accuracy

    # The watched image's conv1 maps at the last snapshot (step 4: the trained weights).
    held = load_held_out("mnist")
    watch = at.selectbox(key="train_watch")
    first = int(watch.value.removeprefix("held:"))
    assert watch.options[0].startswith(f"held-out image #{first}: a {held.held_y[first]}")
    assert len(watch.options) == 16  # the session's input is a photo (CIFAR-10): not offered
    with torch.no_grad():
        maps = model.conv1(plain_input(held.held_x[first].transpose(1, 2, 0)))
    assert legend_bound(at) == float(f"{maps.abs().max():.3g}")

    at.button(key="train_use").click().run()
    assert not at.exception
    assert at.selectbox(key="net_weights").value == "trained"
    heading = next(m.value for m in at.markdown if m.value.startswith("#### The network says"))
    probabilities = [float(t.rstrip("%")) / 100 for t in _bars(at)]
    item = {i.key: i for i in gallery("mnist")}[at.selectbox(key="net_image").value]
    with torch.no_grad():
        p = torch.softmax(model(plain_input(load_gallery_image(item))), dim=1)[0].numpy()
    answer = str(int(p.argmax()))
    assert f"**{answer}** ({p.max():.1%})" in heading
    assert max(probabilities) == float(f"{p.max():.3f}")

    # Back on Train: the session's input (that MNIST gallery digit) can be watched too.
    at.switch_page("pages/train.py").run()
    options = at.selectbox(key="train_watch").options
    assert options[-1] == f"your input on the network pages: {item.source}"
    at.selectbox(key="train_watch").set_value("session").run()
    with torch.no_grad():
        maps = model.conv1(plain_input(load_gallery_image(item)))
    assert legend_bound(at) == float(f"{maps.abs().max():.3g}")


def _bars(at: AppTest) -> list[str]:
    html = next(m.value for m in at.markdown if "<table" in m.value or "bar" in m.value)
    return re.findall(r"(\d+\.\d)%", html)


def test_the_full_data_set_is_offered_when_the_server_has_it(tmp_path, monkeypatch) -> None:
    made = write_full_folder(tmp_path / "data")
    monkeypatch.setenv(FULL_DATA_ENV, str(made.root))
    at = open_train(full="1")
    assert not at.exception and not at.warning
    assert at.radio(key="train_full_data").value is True
    summary = next(m.value for m in at.markdown if m.value.startswith("**This run:**"))
    assert "MNIST digits, all 30 training images" in summary
    data = next(c.value for c in at.caption if c.value.startswith("Data:"))
    assert "the server's full copy: 30 training digits" in data and "12 held-out" in data
    at.radio(key="train_full_data").set_value(False).run()
    assert "all 10,000 training images" in next(
        m.value for m in at.markdown if m.value.startswith("**This run:**")
    )
    assert at.query_params.get("full") is None  # the default leaves the link


def test_a_link_to_full_data_on_a_server_without_them_says_so(monkeypatch) -> None:
    monkeypatch.delenv(FULL_DATA_ENV, raising=False)
    at = open_train(full="1", data="cifar10")
    assert not at.exception
    said = [shown(w.value) for w in at.warning]
    assert said == [
        "This server has no full copy of the CIFAR-10 photos: the run uses the subset shipped "
        "with the app."
    ]
    assert not [r for r in at.radio if r.key == "train_full_data"]
    assert any("ships with the app" in c.value for c in at.caption if c.value.startswith("Data:"))


def test_the_queue_stops_the_runs_of_sessions_that_have_gone(monkeypatch) -> None:
    """Wired to Streamlit's runtime: a session is there while its websocket is connected; the
    grace is Streamlit's reconnect window plus a margin. (The queue's side: tests/test_jobs.)"""
    at = open_train()
    assert not at.exception
    from streamlit.runtime import Runtime

    from explorer.ui import train

    queue = train.job_queue()
    assert queue.owner_alive is train.session_connected
    assert queue.owner_grace_s == 60 + train.OWNER_MARGIN_S  # .streamlit/config.toml's TTL
    assert train.session_connected("anyone") is (not Runtime.exists())

    class FakeRuntime:
        def is_active_session(self, session_id: str) -> bool:
            return session_id == "connected"

    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: FakeRuntime()))
    assert train.session_connected("connected") and not train.session_connected("closed")


@pytest.mark.parametrize("status", ["queued"])
def test_a_run_waiting_in_the_queue_shows_its_place(status: str, navigation_has_run) -> None:
    from explorer.ui import train

    queue = train.job_queue()
    blocker = queue.submit("tests.jobs_for_tests:tick", owner="another-student")
    try:
        at = open_train(**TINY)
        at.button(key="train_run_start").click().run()
        assert not at.exception
        job = queue.get(at.session_state["train_job"])
        assert job.status == status
        said = [i.value for i in at.info]
        assert any(s.startswith("Waiting: 1 in the queue.") for s in said), said
        at.button(key="train_run_stop").click().run()
        assert job.status == "stopped"
    finally:
        blocker.stop()
