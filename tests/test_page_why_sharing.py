"""AppTest of "Why CNNs: shared weights": the numbers a student reads — how many outputs an
edited weight changed, the outputs at the lettered positions, the parameter counts at each
input size and where the network's parameters are — each against plain PyTorch on the shipped
weights, or against counts worked out here from the layers' sizes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from explorer.model import SimpleCNN, builtin_weights
from explorer.numbers import format_value
from explorer.samples import gallery, load_gallery_image
from tests.screen import shown

TIMEOUT = 90
CIFAR = next(c for c in builtin_weights() if c.key == "simplecnn-cifar10")
POSITIONS = {"A": (0, 0), "B": (6, 23), "C": (16, 12), "D": (26, 27)}


@pytest.fixture
def at(navigation_has_run: None) -> AppTest:
    return AppTest.from_file("../pages/why_sharing.py", default_timeout=TIMEOUT).run()


def open_link(navigation_has_run: None, **params: str) -> AppTest:
    app = AppTest.from_file("../pages/why_sharing.py", default_timeout=TIMEOUT)
    app.query_params.update(params)
    return app.run()


def shipped() -> SimpleCNN:
    model = SimpleCNN()
    model.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return model.eval()


def channel(image_key: str | None, index: int) -> torch.Tensor:
    """One channel of a gallery image normalised by hand, 1×1×32×32 float64."""
    items = gallery("cifar10")
    item = next(i for i in items if i.key == image_key) if image_key else items[0]
    pixels = load_gallery_image(item)[..., index].astype(np.float64) / 255
    normalised = (pixels - CIFAR.preprocessing.mean[index]) / CIFAR.preprocessing.std[index]
    return torch.from_numpy(normalised)[None, None]


def outputs(kernel: torch.Tensor, image_key: str | None = None, index: int = 0) -> np.ndarray:
    """The 32×32 output of a 3×3 kernel on the channel, by torch."""
    return F.conv2d(channel(image_key, index), kernel[None, None], padding=1)[0, 0].numpy()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    return shown("\n".join(m.value for m in at.markdown))


def positions(at: AppTest) -> dict[str, dict[str, float]]:
    table = next(t.value for t in at.table if "before" in t.value.columns)
    return {
        letter: {col: float(str(row[col]).replace("−", "-")) for col in table.columns[1:]}
        for letter, row in table.iterrows()
    }


def reference_counts(model: SimpleCNN, side: int) -> tuple[int, int, int]:
    """conv1…conv3 shared, locally connected and dense, from the layers' sizes by hand: each
    conv keeps the size (3×3, padding 1), each pooling halves it."""
    shared = local = dense = 0
    for name in ("conv1", "conv2", "conv3"):
        conv = model.get_submodule(name)
        per_filter = conv.in_channels * 9 + 1
        shared += conv.out_channels * per_filter
        local += side * side * conv.out_channels * per_filter
        n_in = conv.in_channels * side * side
        n_out = conv.out_channels * side * side
        dense += n_in * n_out + n_out
        side //= 2
    return shared, local, dense


def test_the_page_opens_with_the_learned_kernel_and_nothing_changed(at: AppTest) -> None:
    assert not at.exception
    model = shipped()
    learned = model.conv1.weight[0, 0].detach()
    for cell in range(9):
        assert at.text_input(key=f"share_w{cell}").value == format_value(
            float(learned.flatten()[cell])
        )
    assert metrics(at)["Output values changed"] == "0 of 1,024"
    assert "No weight changed yet, so none of the 1,024 output values has" in texts(at)
    reference = outputs(learned.double())
    for letter, values in positions(at).items():
        r, c = POSITIONS[letter]
        assert values["before"] == pytest.approx(reference[r, c], abs=6e-5)
        assert values["change"] == 0


def test_one_edited_weight_changes_all_1024_outputs(at: AppTest) -> None:
    at.text_input(key="share_w4").input("0.5").run()
    assert not at.exception
    assert metrics(at)["Output values changed"] == "1,024 of 1,024"
    assert "All 1,024 output values changed" in texts(at)
    learned = shipped().conv1.weight[0, 0].detach().double()
    edited = learned.clone()
    edited[1, 1] = 0.5
    before, after = outputs(learned), outputs(edited)
    assert np.count_nonzero(after != before) == 1024  # torch agrees: every output moved
    for letter, values in positions(at).items():
        r, c = POSITIONS[letter]
        assert values["after"] == pytest.approx(after[r, c], abs=6e-5)
        assert values["change"] == pytest.approx(after[r, c] - before[r, c], abs=6e-5)
        assert values["Σ (new w − old w) × pixel"] == pytest.approx(values["change"], abs=2e-4)
    assert at.query_params["kedit"] in ("4:0.5", ["4:0.5"])


def test_a_corner_weight_leaves_the_border_that_reads_the_padding(at: AppTest) -> None:
    at.text_input(key="share_w0").input("-1").run()
    learned = shipped().conv1.weight[0, 0].detach().double()
    edited = learned.clone()
    edited[0, 0] = -1
    changed = int(np.count_nonzero(outputs(edited) != outputs(learned)))
    assert changed == 961
    assert metrics(at)["Output values changed"] == f"{changed:,} of 1,024"
    assert "The 63 values that did not change: 63 at the border" in texts(at)
    assert positions(at)["A"]["change"] == 0  # A, the corner, reads the padding there


def test_bad_text_says_so_and_keeps_the_last_number(at: AppTest) -> None:
    at.text_input(key="share_w4").input("0.5").run()
    at.text_input(key="share_w0").input("abc").run()
    assert not at.exception
    said = " ".join(shown(e.value) for e in at.error)
    assert "Row 1, column 1: 'abc' is not a number" in said
    assert at.text_input(key="share_w0").value == "abc"  # what was typed stays to be fixed
    assert metrics(at)["Output values changed"] == "1,024 of 1,024"  # the 0.5 still counts
    at.text_input(key="share_w0").input("1/0").run()
    assert "divides by zero" in " ".join(shown(e.value) for e in at.error)


def test_putting_back_the_learned_weights(at: AppTest) -> None:
    at.text_input(key="share_w8").input("2").run()
    at.button(key="share_reset").click().run()
    assert not at.exception
    assert metrics(at)["Output values changed"] == "0 of 1,024"
    learned = shipped().conv1.weight[0, 0].detach()
    assert at.text_input(key="share_w8").value == format_value(float(learned[2, 2]))
    assert "kedit" not in at.query_params


def test_a_link_sets_filter_channel_and_weights(navigation_has_run: None) -> None:
    at = open_link(navigation_has_run, kfilter="5", kchan="G", kedit="2:1/9")
    assert not at.exception and not at.warning
    assert at.number_input(key="share_filter").value == 5
    assert at.radio(key="share_channel").value == "G"
    assert at.text_input(key="share_w2").value == "1/9"
    learned = shipped().conv1.weight[5, 1].detach().double()
    edited = learned.clone()
    edited[0, 2] = 1 / 9
    after = outputs(edited, index=1)
    for letter, values in positions(at).items():
        r, c = POSITIONS[letter]
        assert values["after"] == pytest.approx(after[r, c], abs=6e-5)
    assert "conv1's map 5" in " ".join(c.value for c in at.caption)


def test_a_bad_link_says_what_it_ignored(navigation_has_run: None) -> None:
    at = open_link(navigation_has_run, kfilter="40", kedit="4:zz")
    assert not at.exception
    said = " ".join(shown(w.value) for w in at.warning)
    assert "kfilter='40'" in said and "'4:zz'" in said
    assert metrics(at)["Output values changed"] == "0 of 1,024"


def test_counts_at_32_and_where_the_parameters_are(at: AppTest) -> None:
    model = shipped()
    shared, local, dense = reference_counts(model, 32)
    shown_metrics = metrics(at)
    assert shown_metrics["Shared (the convolutions)"] == f"{shared:,}" == "93,248"
    assert shown_metrics["Locally connected"] == f"{local:,}" == "10,379,264"
    assert shown_metrics["Dense"] == f"{dense:,}" == "268,492,800"
    captions = " ".join(c.value for c in at.caption)
    assert "about 93.2 thousand" in captions and "about 10.4 million" in captions
    assert "about 268 million" in captions
    total = sum(p.numel() for p in model.parameters())
    fc1 = sum(p.numel() for p in model.fc1.parameters())
    assert f"fc1 alone holds {fc1 / total:.0%}** of the {total:,} parameters" in texts(at)
    assert total == 1_147_466 and f"{fc1 / total:.0%}" == "91%"
    where = next(t.value for t in at.table if "share" in t.value.columns)
    for name, row in where.iterrows():
        n = sum(p.numel() for p in model.get_submodule(str(name)).parameters())
        assert row["parameters"] == f"{n:,}" and row["share"] == f"{n / total:.1%}"


@pytest.mark.parametrize("side", [64, 224])
def test_a_larger_image_grows_all_but_the_convolutions(at: AppTest, side: int) -> None:
    at.radio(key="share_side").set_value(side).run()
    assert not at.exception
    model = shipped()
    shared, local, dense = reference_counts(model, side)
    shown_metrics = metrics(at)
    assert shown_metrics["Shared (the convolutions)"] == "93,248" == f"{shared:,}"
    assert shown_metrics["Locally connected"] == f"{local:,}"
    assert shown_metrics["Dense"] == f"{dense:,}"
    flat = 128 * (side // 8) ** 2
    assert f"{flat:,} × 512 + 512 = **{flat * 512 + 512:,}**" in texts(at)
    growth = re.search(r"locally connected layers grow ([\d,]+)×", texts(at))
    assert growth is not None and int(growth.group(1).replace(",", "")) == (side // 32) ** 2
    assert at.query_params["inpx"] in (str(side), [str(side)])


def test_mnist_weights_give_their_own_kernel(at: AppTest) -> None:
    at.selectbox(key="net_weights").set_value("simplecnn-mnist").run()
    assert not at.exception
    mnist = next(c for c in builtin_weights() if c.key == "simplecnn-mnist")
    model = SimpleCNN()
    model.load_state_dict(torch.load(mnist.path, weights_only=True))
    assert at.text_input(key="share_w0").value == format_value(
        float(model.conv1.weight[0, 0, 0, 0].detach())
    )
    assert metrics(at)["Shared (the convolutions)"] == "93,248"


def test_without_a_drawing_yet_the_counts_still_show(navigation_has_run: None) -> None:
    at = open_link(navigation_has_run, **{"in": "draw"})
    assert not at.exception
    assert any("Draw on the black square" in i.value for i in at.info)
    assert "Output values changed" not in metrics(at)  # no input: no lab
    assert metrics(at)["Dense"] == "268,492,800"


def test_presenter_mode_hides_the_chosen_sections(navigation_has_run: None) -> None:
    at = open_link(navigation_has_run, present="1", hide="input,counts")
    assert not at.exception
    headings = [h.value for h in at.header]
    assert "One kernel, every position" in headings and "What sharing saves" not in headings
    assert metrics(at)["Output values changed"] == "0 of 1,024"
    assert "Dense" not in metrics(at)
