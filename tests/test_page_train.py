"""AppTest of "Train it yourself": the link sets every choice, a tiny run goes from Start to
"Finished" in a worker process with its curves, filters, strip and confusion matrix, and the
network it made becomes "Your network (trained here)" on Feature maps — where its answer is the
one plain PyTorch gives with the downloaded state_dict."""

from __future__ import annotations

import io
import time

import numpy as np
import torch
from streamlit.testing.v1 import AppTest

from explorer.model import MNIST_PREPROCESSING, SimpleCNN
from explorer.samples import gallery, load_gallery_image
from tests.screen import shown

TIMEOUT = 120
TINY = {"n": "200", "ep": "1", "bs": "64"}  # 4 steps: seconds, not minutes


def open_train(**params: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    at.switch_page("pages/train.py")
    return at.run()


def finish(at: AppTest, limit_s: float = 150.0) -> None:
    """Rerun as the live panel would, until the run has finished."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if any(b.key == "train_use" for b in at.button):
            return
        time.sleep(1.0)
    raise AssertionError(f"the run did not finish: {[p.proto.text for p in at.get('progress')]}")


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


def test_a_tiny_run_trains_and_becomes_your_network(navigation_has_run) -> None:
    at = open_train(**TINY)
    at.button(key="train_run_start").click().run()
    assert not at.exception
    finish(at)
    progress = [p.proto.text for p in at.get("progress")]
    assert progress and progress[0].startswith("Finished. Step 4 of 4")
    assert any(c.proto.id and "train_curves" in c.proto.id for c in at.get("plotly_chart"))
    assert any("conv1's 32 filters" in m.value for m in at.markdown)
    assert any(
        m.value.startswith("**What it says now about 16 held-out images") for m in at.markdown
    )
    assert any(m.value.startswith("**After epoch 1") for m in at.markdown)
    accuracy = next(m.value for m in at.markdown if m.value.startswith("Held-out accuracy:"))

    at.button(key="train_use").click().run()
    assert not at.exception
    assert at.selectbox(key="net_weights").value == "trained"
    heading = next(m.value for m in at.markdown if m.value.startswith("#### The network says"))
    probabilities = [float(t.rstrip("%")) / 100 for t in _bars(at)]
    # The network the run made, read back from its own job, in plain PyTorch.
    from explorer.ui import train

    job = train.job_queue().get(at.session_state["train_job"])
    model = SimpleCNN()
    model.load_state_dict(torch.load(io.BytesIO(job.result["state_dict"]), weights_only=True))
    model.eval()
    item = {i.key: i for i in gallery("mnist")}[at.selectbox(key="net_image").value]
    x = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(MNIST_PREPROCESSING.mean).view(3, 1, 1)
    std = torch.tensor(MNIST_PREPROCESSING.std).view(3, 1, 1)
    with torch.no_grad():
        p = torch.softmax(model(((x - mean) / std)[None]), dim=1)[0].numpy()
    answer = str(int(p.argmax()))
    assert f"**{answer}** ({p.max():.1%})" in heading
    assert max(probabilities) == float(f"{p.max():.3f}")
    assert f"{job.result['held_out_accuracy']:.1%}" in accuracy


def _bars(at: AppTest) -> list[str]:
    import re

    html = next(m.value for m in at.markdown if "<table" in m.value or "bar" in m.value)
    return re.findall(r"(\d+\.\d)%", html)
