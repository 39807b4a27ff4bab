"""AppTest of "Why CNNs: a hierarchy": every number a student reads — each stage's field, the
maps the rule chose with their scores, the gallery images' peaks, the made inputs' means — is
the one plain PyTorch (or a hand calculation) gives, and the made inputs come from one shared
job. The optimisation runs 3 steps here (the page reads the step count at each run)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from explorer import attribution
from explorer.heavy import Optimise
from explorer.model import SimpleCNN, builtin_weights
from explorer.numbers import format_value
from explorer.receptive_field import receptive_field
from explorer.samples import gallery, load_gallery_image
from tests.screen import shown

TIMEOUT = 300  # the made inputs are computed in a worker process during the first run
STEPS = 3
CIFAR = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]
IDENTITY = "simplecnn-cifar10@cpu"


def number(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def written(value: float) -> str:
    """A number as the page writes it: the app's format, with a true minus sign."""
    return format_value(value).replace("-", "\u2212")


@pytest.fixture(scope="module")
def reference() -> tuple[SimpleCNN, dict[str, np.ndarray]]:
    """The shipped CIFAR-10 network, and conv1…conv3 of every gallery image, by plain PyTorch
    with the normalisation written out."""
    model = SimpleCNN()
    model.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    model.eval()
    images = np.stack([load_gallery_image(i) for i in gallery("cifar10")])
    x = torch.from_numpy(images.astype(np.float32) / 255).permute(0, 3, 1, 2)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(1, 3, 1, 1)
    h, maps = (x - mean) / std, {}
    with torch.no_grad():
        for i in (1, 2, 3):
            h = getattr(model, f"conv{i}")(h)
            maps[f"conv{i}"] = h.double().numpy()
            h = F.max_pool2d(torch.relu(h), 2)
    return model, maps


def open_page(**params: str) -> AppTest:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attribution, "MAXIMISE_STEPS", STEPS)
        at = AppTest.from_file("../pages/why_hierarchy.py", default_timeout=TIMEOUT)
        at.query_params.update(params)
        return at.run()


@pytest.fixture(scope="module")
def page() -> Iterator[AppTest]:
    from explorer.ui import heavy

    heavy.work().forget(lambda key: isinstance(key[1], Optimise) and key[1].steps == STEPS)
    yield open_page()


def captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


MAP_LINE = re.compile(r"^\*\*(conv\d) map (\d+)\*\*: score (\S+), rank (\d+) of (\d+) \((.+)\)$")


def maps_shown(at: AppTest) -> dict[str, list[tuple[int, float, int]]]:
    """stage → [(map, score, rank)] in the order shown."""
    found: dict[str, list[tuple[int, float, int]]] = {}
    for m in at.markdown:
        line = MAP_LINE.match(m.value)
        if line:
            stage, channel, score, rank = line.group(1, 2, 3, 4)
            found.setdefault(stage, []).append((int(channel), number(score), int(rank)))
    return found


def test_the_fields_grow_from_3_pixels_to_the_whole_image(page) -> None:
    assert not page.exception
    table = next(m.value for m in page.markdown if m.value.startswith("| stage | unit | field"))
    rows = re.findall(
        r"^\| (\w+) \| \w+\[([\d, ]+)\] \| (\d+)×\d+ \| rows (\d+)–(\d+), columns (\d+)–(\d+) "
        r"\| ([\d.]+)% \|$",
        table,
        re.M,
    )
    # By hand: a 3×3 conv adds 2 × the jump, a 2×2 pool adds 1 × the jump and doubles it.
    sides, field, jump = [], 1, 1
    for kind in ("conv", "pool", "conv", "pool", "conv", "pool"):
        field, jump = (field + 2 * jump, jump) if kind == "conv" else (field + jump, jump * 2)
        sides.append(field)
    assert [int(r[2]) for r in rows] == [*sides, 32] == [3, 4, 8, 10, 18, 22, 32]
    for stage, cell, _, top, bottom, left, right, share in rows:
        box = receptive_field(stage, tuple(int(v) for v in cell.split(",")))
        assert (int(top), int(bottom), int(left), int(right)) == (
            box.top,
            box.bottom,
            box.left,
            box.right,
        )
        assert float(share) == round(100 * box.height * box.width / 1024, 1)
    assert rows[-1][1:] == ("0", "32", "0", "31", "0", "31", "100.0")


def test_the_maps_shown_are_the_largest_mean_responses(page, reference) -> None:
    _, maps = reference
    shown_maps = maps_shown(page)
    assert list(shown_maps) == ["conv1", "conv2", "conv3"]
    for stage, rows in shown_maps.items():
        score = maps[stage].mean(axis=(2, 3)).mean(axis=0)  # per image, then over the gallery
        expected = np.argsort(-score, kind="stable")[:3]
        assert [r[0] for r in rows] == list(expected), stage
        assert [r[2] for r in rows] == [1, 2, 3]
        for channel, value, _ in rows:
            assert value == pytest.approx(score[channel], abs=6e-5), (stage, channel)


def test_each_map_shows_its_strongest_gallery_images(page, reference) -> None:
    _, maps = reference
    labels = [i.label_name for i in gallery("cifar10")]
    said = captions(page)
    for stage, rows in maps_shown(page).items():
        for channel, _, _ in rows:
            peaks = maps[stage][:, channel].reshape(len(labels), -1)
            for i in np.argsort(-peaks.max(axis=1), kind="stable")[:3]:
                r, c = divmod(int(peaks[i].argmax()), maps[stage].shape[-1])
                want = f"{labels[i]}: {written(peaks[i].max())} at ({r}, {c})"
                assert want in said, (stage, channel, want)


def test_the_made_inputs_excite_their_maps_as_said(page, reference) -> None:
    """Every made input is shown, from the shared results (one job made them all), and the
    mean the page states is its map's mean by plain PyTorch."""
    from explorer.ui import heavy

    model, _ = reference
    said = captions(page)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(1, 3, 1, 1)
    for stage, rows in maps_shown(page).items():
        for channel, _, _ in rows:
            best = heavy.work().result((IDENTITY, Optimise(stage, channel, STEPS, 0)))
            assert best is not None and best.steps == STEPS
            x = (torch.from_numpy(best.image).permute(2, 0, 1)[None].float() / 255 - mean) / std
            h = x
            with torch.no_grad():
                for i in range(1, int(stage[-1]) + 1):
                    if i > 1:
                        h = F.max_pool2d(torch.relu(h), 2)
                    h = getattr(model, f"conv{i}")(h)
            line = next(c for c in said if c.startswith(f"Made for {stage} map {channel}: "))
            value = number(re.search(r"mean (\S+) \(", line).group(1))
            assert value == pytest.approx(float(h[0, channel].mean()), abs=6e-5)
    assert not any(b.key and b.key.endswith("_stop") for b in page.button)  # all done


def test_another_session_gets_them_without_a_job() -> None:
    from explorer.ui import heavy

    at = open_page()
    assert not at.exception
    keys = [
        (IDENTITY, Optimise(s, ch, STEPS, 0))
        for s, rows in maps_shown(at).items()
        for ch, *_ in rows
    ]
    assert len(keys) == 9 and all(heavy.work().job_of(k) is None for k in keys)
    assert sum(c.startswith("Made for ") for c in captions(at)) == 9


def test_the_link_chooses_the_rule_and_the_count(reference) -> None:
    _, maps = reference
    at = open_page(maps="2", rank="peak")
    assert not at.exception
    for stage, rows in maps_shown(at).items():
        score = maps[stage].max(axis=(2, 3)).mean(axis=0)
        assert [r[0] for r in rows] == list(np.argsort(-score, kind="stable")[:2]), stage
    assert at.selectbox(key="hier_maps").value == 2
    assert at.radio(key="hier_rank").value == "peak"
    params = dict(at.query_params)
    assert params["maps"] == "2" and params["rank"] == "peak"


def test_a_link_with_nonsense_is_ignored_with_a_sentence() -> None:
    at = open_page(maps="99", rank="<script>x</script>")
    assert not at.exception
    said = [shown(w.value) for w in at.warning]
    assert any("Ignored the link's maps='99'" in w for w in said), said
    assert any("Ignored the link's rank=" in w for w in said), said
    assert len(maps_shown(at)["conv2"]) == 3


def test_each_stage_says_what_can_and_cannot_be_read() -> None:
    from explorer.ui.hierarchy import STAGE_WORDS

    at = open_page()
    headers = [h.value for h in at.get("header")]
    assert headers[:4] == [
        "How far one unit sees",
        f"conv1 · {STAGE_WORDS['conv1'][0]}",
        f"conv2 · {STAGE_WORDS['conv2'][0]}",
        f"conv3 · {STAGE_WORDS['conv3'][0]}",
    ]
    cannot = [c.value for c in at.caption if c.value.startswith("**What these pictures cannot")]
    assert len(cannot) == 3
