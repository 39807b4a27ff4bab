"""AppTest: the feature-map page shows every stage for the default input, and each control
changes what is rendered."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery
from explorer.stages import SPATIAL_STAGES, STRIP_STAGES
from tests.screen import shown
from tests.stage_figures import stage_figures

TIMEOUT = 60


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT)
    return app.run()


def images(at: AppTest) -> list:
    return list(at.get("image"))


def heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("#### The network says"))


def figure(at: AppTest, key: str) -> dict:
    import json

    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def test_default_page_shows_a_gallery_image_every_stage_and_a_prediction(at: AppTest) -> None:
    assert not at.exception
    assert at.radio(key="net_input").value == "gallery"
    assert at.selectbox(key="net_image").value is not None
    assert heading(at)
    shown = stage_figures(at)
    assert list(shown) == [*SPATIAL_STAGES, *STRIP_STAGES]  # every stage, in the network's order
    for name, stage in shown.items():
        assert stage.title.startswith(name) and stage.maps_url and stage.bar_url and stage.legend
    assert shown["conv1"].shape == "32×32×32" and shown["flatten"].shape == "2048"
    assert len(images(at)) >= 5  # the input and its 3 channels, conv1's filters
    assert any("evaluation mode" in c.value for c in at.caption)
    assert any("ms** on" in c.value for c in at.caption)


def test_another_gallery_sample_changes_the_input_and_its_true_label(at: AppTest) -> None:
    box = at.selectbox(key="net_image")
    first = box.value
    other = next(i.key for i in gallery("cifar10") if i.label_name not in first)
    before = [c.value for c in at.caption if c.value.startswith("Input:")]
    box.set_value(other).run()
    assert not at.exception
    after = [c.value for c in at.caption if c.value.startswith("Input:")]
    assert before != after


def test_layer_and_map_choice_change_the_enlarged_map(at: AppTest) -> None:
    at.selectbox(key="net_layer").set_value("conv2").run()
    at.number_input(key="net_map").set_value(5).run()
    assert not at.exception
    assert any("conv2 filter 5" in m.value for m in at.markdown)
    at.selectbox(key="net_layer").set_value("pool3").run()
    assert not at.exception
    assert any("conv3 filter 5" in m.value for m in at.markdown)


def test_map_index_is_reset_when_the_layer_has_fewer_maps(at: AppTest) -> None:
    at.selectbox(key="net_layer").set_value("conv3").run()
    at.number_input(key="net_map").set_value(100).run()
    at.selectbox(key="net_layer").set_value("conv1").run()
    assert not at.exception
    assert at.number_input(key="net_map").value == 0


def test_colour_scale_choice_changes_the_legends(at: AppTest) -> None:
    shared = [f.legend for f in stage_figures(at).values()]
    assert all(legend.startswith(("blue", "dark")) for legend in shared)
    at.radio(key="net_scale").set_value("map").run()
    assert not at.exception
    legends = {n: f.legend for n, f in stage_figures(at).items()}
    assert all(legends[n].startswith("Each map:") for n in SPATIAL_STAGES)
    assert all(legends[n].startswith(("blue", "dark")) for n in STRIP_STAGES)  # one strip each


def test_weights_choice_changes_the_prediction_classes(at: AppTest) -> None:
    for choice in builtin_weights():
        at.selectbox(key="net_weights").set_value(choice.key).run()
        assert not at.exception
        answer = heading(at).split("**")[1]
        assert answer in choice.classes
        expected = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
        assert at.selectbox(key="net_image").value.startswith(expected)


def test_device_cpu_can_be_chosen(at: AppTest) -> None:
    radios = [r for r in at.radio if r.key == "net_device"]
    if radios:
        radios[0].set_value("cpu").run()
    assert not at.exception
    assert any("on **CPU**" in c.value for c in at.caption)


def test_a_bad_image_upload_shows_a_message(at: AppTest) -> None:
    at.radio(key="net_input").set_value("upload").run()
    at.file_uploader(key="net_upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert any("could not be read" in e.value for e in at.error)


def test_an_image_upload_is_classified(at: AppTest) -> None:
    at.radio(key="net_input").set_value("upload").run()
    buf = io.BytesIO()
    Image.fromarray(np.full((50, 80, 3), (200, 30, 30), np.uint8)).save(buf, "PNG")
    at.file_uploader(key="net_upload").set_value(("red.png", buf.getvalue(), "image/png")).run()
    assert not at.exception
    assert heading(at)
    assert any("your image red.png" in shown(c.value) for c in at.caption)  # literal text


def test_a_bad_weights_upload_shows_a_message(at: AppTest) -> None:
    at.selectbox(key="net_weights").set_value("upload").run()
    state = SimpleCNN().state_dict()
    state["fc1.weight"] = torch.zeros(512, 100)
    buf = io.BytesIO()
    torch.save(state, buf)
    at.file_uploader(key="net_weights_file").set_value(("bad.pt", buf.getvalue(), "x")).run()
    assert not at.exception
    assert any("fc1.weight" in shown(e.value) for e in at.error)


def test_drawing_is_classified(at: AppTest) -> None:
    at.radio(key="net_input").set_value("draw").run()
    assert any("Draw on the black square" in i.value for i in at.info)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[:, :, 3] = 255
    canvas[40:240, 130:150, :3] = 255  # a "1"
    buf = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    at.session_state["net_canvas"] = {"drawing": {"raw": {"objects": []}, "data": url}}
    at.run()
    assert not at.exception
    assert heading(at)
    assert any("your drawing" in c.value for c in at.caption)


def test_use_this_filter_sets_the_playground_kernel(at: AppTest) -> None:
    at.number_input(key="fm_pg_filter").set_value(3).run()
    at.radio(key="fm_pg_channel").set_value("G").run()
    at.button(key="fm_pg_send").click().run()
    state = at.session_state["conv_state"]  # the playground's set-up, ready when it opens
    assert state.preset == "custom" and state.kernel_origin == "conv1 filter 3 (G)"
    weights = torch.load(builtin_weights()[0].path, weights_only=True)["conv1.weight"]
    np.testing.assert_array_equal(state.kernel(), weights[3, 1].double().numpy())


def test_gallery_matches_the_dataset_of_the_weights() -> None:
    assert gallery("cifar10") and gallery("mnist")


def test_uploaded_weights_read_as_another_dataset_are_recomputed(at: AppTest) -> None:
    """The same file read as MNIST weights normalises the same input differently, so the maps
    computed for it as CIFAR-10 weights must not be served from the caches."""
    buf = io.BytesIO()
    torch.manual_seed(1)
    torch.save(SimpleCNN().state_dict(), buf)
    photo = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), (200, 120, 40), np.uint8)).save(photo, format="PNG")
    at.selectbox(key="net_weights").set_value("upload").run()
    at.file_uploader(key="net_weights_file").set_value(("mine.pt", buf.getvalue(), "x")).run()
    at.radio(key="net_input").set_value("upload").run()
    at.file_uploader(key="net_upload").set_value(("p.png", photo.getvalue(), "image/png")).run()

    def statistics() -> str:
        return next(m.value for m in at.markdown if m.value.startswith("min **"))

    as_cifar = statistics()
    at.radio(key="net_upload_dataset").set_value("mnist").run()
    assert not at.exception
    assert statistics() != as_cifar  # conv1 of the same photo, normalised as MNIST digits


# --------------------------------------------------------------------- values a student reads
# Each is compared with an independent computation: the shipped weights run by plain PyTorch.


def reference_model(key: str = "simplecnn-cifar10") -> SimpleCNN:
    choice = {c.key: c for c in builtin_weights()}[key]
    model = SimpleCNN()
    model.load_state_dict(torch.load(choice.path, weights_only=True))
    return model.eval()


def reference_input(at: AppTest) -> torch.Tensor:
    """The selected gallery image, normalised the CIFAR-10 way, as 1×3×32×32."""
    item = {i.key: i for i in gallery("cifar10")}[at.selectbox(key="net_image").value]
    from explorer.samples import load_gallery_image

    image = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    choice = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]
    mean = torch.tensor(choice.preprocessing.mean).view(3, 1, 1)  # the card's own numbers
    std = torch.tensor(choice.preprocessing.std).view(3, 1, 1)
    return ((image - mean) / std)[None]


def bars(at: AppTest, after: str) -> list[tuple[str, float]]:
    """The (name, value) rows of the bar table that follows the markdown ``after``."""
    texts = [m.value for m in at.markdown]
    table = next(t for t in texts[texts.index(after) + 1 :] if t.startswith("<table"))
    rows = re.findall(r"<tr><td[^>]*>(.*?)</td>.*?<td[^>]*>([^<]*)</td></tr>", table)
    return [(name, value) for name, value in rows]


def test_probabilities_shown_are_softmax_of_the_model(at: AppTest) -> None:
    with torch.no_grad():
        expected = torch.softmax(reference_model()(reference_input(at)), dim=1)[0].numpy()
    rows = bars(at, "**Probability of each class (softmax)**")
    classes = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"].classes
    assert len(rows) == 10
    shown_p = {name: float(text.rstrip("%")) / 100 for name, text in rows}
    for name, p in shown_p.items():
        assert abs(p - expected[classes.index(name)]) <= 0.0005 + 1e-9  # written to 0.1%
    assert abs(sum(shown_p.values()) - 1) < 0.006  # ten values rounded to 0.1% each
    assert [n for n, _ in rows] == [classes[i] for i in np.argsort(-expected, kind="stable")]


def test_logits_shown_are_the_model_scores(at: AppTest) -> None:
    with torch.no_grad():
        expected = reference_model()(reference_input(at))[0].numpy()
    classes = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"].classes
    rows = bars(at, "**fc2: the 10 scores (logits), before softmax**")
    for name, text in rows:
        np.testing.assert_allclose(
            float(text.replace("\u2212", "-")), expected[classes.index(name)], rtol=5e-3
        )


@pytest.mark.parametrize("want_correct", [True, False])
def test_the_verdict_says_correct_or_wrong_by_the_true_label(at: AppTest, want_correct) -> None:
    model = reference_model()
    for item in gallery("cifar10"):
        at.selectbox(key="net_image").set_value(item.key).run()
        with torch.no_grad():
            predicted = int(model(reference_input(at)).argmax())
        if (predicted == item.label) == want_correct:
            break
    else:
        pytest.skip("no gallery image of this kind")
    sentence = heading(at)
    if want_correct:
        assert sentence.endswith(" — correct")
    else:
        assert f"wrong, the true label is **{item.label_name}**" in sentence


def test_the_enlarged_map_holds_that_maps_activations(at: AppTest) -> None:
    at.selectbox(key="net_layer").set_value("relu2").run()
    at.number_input(key="net_map").set_value(7).run()
    model = reference_model()
    with torch.no_grad():
        x = model.pool(torch.relu(model.conv1(reference_input(at))))
        expected = torch.relu(model.conv2(x))[0, 7].numpy()
    z = figure(at, "fm_heatmap")["data"][0]["z"]
    if isinstance(z, dict):
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(16, 16)
    np.testing.assert_allclose(np.asarray(z, dtype=np.float64), expected, rtol=1e-5, atol=1e-6)
    stats = next(m.value for m in at.markdown if m.value.startswith("min **"))
    assert f"max **{expected.max():.4g}**" in stats


def test_the_legend_numbers_are_the_stage_range(at: AppTest) -> None:
    model = reference_model()
    with torch.no_grad():
        conv1 = model.conv1(reference_input(at))[0].numpy()
    bound = float(np.abs(conv1).max())
    expected = f"blue {-bound:.3g} · white 0 · red {bound:.3g}".replace("-", "−")
    assert stage_figures(at)["conv1"].legend == expected  # written with a true minus


def test_each_map_on_its_own_changes_the_pictures(at: AppTest) -> None:
    before = {n: f.maps_url for n, f in stage_figures(at).items()}
    inputs = [i.proto.imgs[0].url for i in images(at)]
    at.radio(key="net_scale").set_value("map").run()
    after = {n: f.maps_url for n, f in stage_figures(at).items()}
    assert [before[n] != after[n] for n in before] == [n in SPATIAL_STAGES for n in before]
    assert [i.proto.imgs[0].url for i in images(at)] == inputs  # the input and filters stay


def test_a_failed_gpu_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from explorer import features
    from explorer.ui import content

    real = features.run_with_fallback

    def failed_gpu(*args, **kwargs):
        acts = real(*args, **kwargs)
        return dataclasses.replace(acts, fallback_reason="RuntimeError: CUDA out of memory")

    monkeypatch.setattr(features, "run_with_fallback", failed_gpu)
    content.capture.clear()
    try:
        at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    finally:
        content.capture.clear()
    assert not at.exception
    assert any(
        "The GPU failed" in shown(w.value) and "out of memory" in shown(w.value) for w in at.warning
    )


def test_weights_with_another_head_do_not_judge_by_label_names(at: AppTest) -> None:
    torch.manual_seed(3)
    buf = io.BytesIO()
    torch.save(SimpleCNN(num_classes=7).state_dict(), buf)
    at.selectbox(key="net_weights").set_value("upload").run()
    at.file_uploader(key="net_weights_file").set_value(("seven.pt", buf.getvalue(), "x")).run()
    assert not at.exception
    sentence = heading(at)
    assert "class " in sentence.split("**")[1]
    assert "cannot be told" in sentence and "correct" not in sentence.replace("cannot", "")


def test_the_address_holds_the_set_up_and_a_fresh_visit_restores_it(at: AppTest) -> None:
    item = gallery("cifar10")[3]
    at.selectbox(key="net_image").set_value(item.key).run()
    at.selectbox(key="net_layer").set_value("conv3").run()
    at.number_input(key="net_map").set_value(17).run()
    at.radio(key="net_scale").set_value("map").run()
    params = dict(at.query_params)
    assert params["img"] == item.key and params["layer"] == "conv3" and params["map"] == "17"
    fresh = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT)
    fresh.query_params.update(params)
    fresh.run()
    assert not fresh.exception and not fresh.warning
    assert fresh.selectbox(key="net_image").value == item.key
    assert fresh.selectbox(key="net_layer").value == "conv3"
    assert fresh.number_input(key="net_map").value == 17
    assert fresh.radio(key="net_scale").value == "map"


def test_presenting_leads_with_the_picture_and_the_answer() -> None:
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT)
    at.query_params.update({"present": "1", "hide": "input,filters"})
    at.run()
    assert not at.exception
    # First on the screen: the picture (with its source and true label), then the answer.
    first_image = at.main.get("image")[0]
    assert "true label: airplane" in shown(first_image.proto.imgs[0].caption)
    assert heading(at)
    assert bars(at, "**Probability of each class (softmax)**")
    # Then the maps (the lesson), then what the model sees; the hidden sections are gone.
    subheaders = [h.value for h in at.subheader]
    assert subheaders.index("Every stage, every map") < subheaders.index("What the model sees")
    assert "conv1's 32 filters" not in subheaders
    assert not [r for r in at.radio if r.key == "net_input"]  # the chooser is hidden
    assert dict(at.query_params)["present"] == "1"


def test_untrained_weights_do_not_call_their_filters_learned(at: AppTest) -> None:
    def said(at: AppTest) -> str:
        explanations = [f.explanation for f in stage_figures(at).values()]
        return " ".join([c.value for c in at.caption] + explanations)

    trained = said(at)
    assert "one learned 3×3 filter" in trained
    untrained = next(c.key for c in builtin_weights() if c.path is None)
    at.selectbox(key="net_weights").set_value(untrained).run()
    assert not at.exception
    text = said(at)
    assert "learned" not in text.replace("not learned anything", "")
    assert "one random (untrained) 3×3 filter" in text


def giveaways(at: AppTest, answer: str) -> list[str]:
    """Everything on the screen that tells the network's answer: the verdict, the comparison's
    answers, the probability and score bars, the links named after the answer."""
    found = [m.value for m in at.markdown if m.value.startswith("#### The network says")]
    found += [m.value for m in at.markdown if " says **" in m.value]
    bar_chart = '<table style="width:100%;border-collapse:collapse">'  # content.bars_html
    found += [m.value for m in at.markdown if m.value.startswith(bar_chart)]
    found += [
        link.proto.label
        for link in at.get("page_link")
        if answer in link.proto.label or "made it say" in link.proto.label
    ]
    found += [m.value for m in at.markdown if f"made it say {answer}" in m.value]
    return found


def guess_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.key and b.key.startswith("fm_pick_")]


def test_guess_first_hides_every_giveaway_until_a_class_is_picked(at: AppTest) -> None:
    answer = heading(at).split("**")[1]
    untrained = next(c for c in builtin_weights() if c.path is None)
    at.selectbox(key="fm_compare").set_value(untrained.key).run()
    assert giveaways(at, answer)  # the answer, the bars and the comparison's answers
    at.toggle(key="fm_guess_on").set_value(True).run()
    assert not at.exception
    assert giveaways(at, answer) == []
    # One button per class, each class once, in the network's order.
    classes = builtin_weights()[0].classes
    assert [b.label for b in guess_buttons(at)] == list(classes)
    at.button(key=f"fm_pick_{classes.index(answer)}").click().run()
    assert not at.exception
    assert heading(at).split("**")[1] == answer
    assert len([m for m in at.markdown if " says **" in m.value]) == 2  # both networks
    line = next(m.value for m in at.markdown if m.value.startswith("You guessed"))
    assert f"**{answer}**: the same as the network" in line and "**1 of 1**" in line


def test_a_wrong_guess_is_counted_once_and_a_second_look_hides_the_answer_again(
    at: AppTest,
) -> None:
    answer = heading(at).split("**")[1]
    classes = builtin_weights()[0].classes
    wrong = next(c for c in classes if c != answer)
    at.toggle(key="fm_guess_on").set_value(True).run()
    at.button(key=f"fm_pick_{classes.index(wrong)}").click().run()
    line = next(m.value for m in at.markdown if m.value.startswith("You guessed"))
    assert f"**{wrong}**: the network says {answer}" in line and "**0 of 1**" in line
    at.button(key="fm_guess_again").click().run()
    assert giveaways(at, answer) == []
    at.button(key=f"fm_pick_{classes.index(answer)}").click().run()
    line = next(m.value for m in at.markdown if m.value.startswith("You guessed"))
    assert "**0 of 1**" in line  # the second guess at the same image is not counted


def test_presenting_the_teacher_asks_the_room_and_reveals_the_answer() -> None:
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT)
    at.query_params.update({"present": "1"})
    at.run()
    answer = heading(at).split("**")[1]
    at.toggle(key="fm_guess_on").set_value(True).run()
    assert not at.exception
    assert "Ask the room" in at.toggle(key="fm_guess_on").label
    assert giveaways(at, answer) == []
    assert len(guess_buttons(at)) == 10
    at.button(key="fm_reveal").click().run()  # no vote taken: the answer, uncounted
    assert heading(at).split("**")[1] == answer
    assert bars(at, "**Probability of each class (softmax)**")
    assert not any(m.value.startswith("The room guessed") for m in at.markdown)
    at.button(key="fm_guess_again").click().run()  # asked again: hidden again
    assert giveaways(at, answer) == []
    classes = builtin_weights()[0].classes
    at.button(key=f"fm_pick_{classes.index(answer)}").click().run()  # the room's choice
    line = next(m.value for m in at.markdown if m.value.startswith("The room guessed"))
    assert f"**{answer}**: the same as the network" in line and "**1 of 1**" in line


def test_side_by_side_runs_the_same_input_through_another_network(at: AppTest) -> None:
    untrained = next(c for c in builtin_weights() if c.path is None)
    at.selectbox(key="fm_compare").set_value(untrained.key).run()
    assert not at.exception
    lines = [m.value for m in at.markdown if " says **" in m.value and m.value.startswith("**")]
    assert len(lines) == 2 and lines[1].startswith(f"**{untrained.label}** says")
    # The untrained network's answer from its own seeded initialisation, run by plain PyTorch
    # on the same input (normalised as that network expects).
    from explorer.model import UNTRAINED_SEED

    assert untrained.preprocessing == builtin_weights()[0].preprocessing
    with torch.random.fork_rng(), torch.no_grad():  # torch's own seeded initialisation
        torch.manual_seed(UNTRAINED_SEED)
        probabilities = torch.softmax(SimpleCNN().eval()(reference_input(at)), dim=1)[0]
    k = int(probabilities.argmax())
    assert f"says **{untrained.classes[k]}** ({float(probabilities[k]):.1%})" in lines[1]


def test_the_mnist_network_gets_the_normalisation_it_was_trained_with(at: AppTest) -> None:
    """MNIST's own mean and standard deviation (0.1307 and 0.3081, of its 60,000 training
    digits), not CIFAR-10's: the caption a student reads, and the probabilities computed
    from it by plain PyTorch."""
    at.selectbox(key="net_weights").set_value("simplecnn-mnist").run()
    assert not at.exception
    said = [c.value for c in at.caption if c.value.startswith("(pixel/255")]
    assert len(said) == 3 and all(c.startswith("(pixel/255 − 0.1307) / 0.3081 →") for c in said)
    from explorer.samples import load_gallery_image

    item = {i.key: i for i in gallery("mnist")}[at.selectbox(key="net_image").value]
    image = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    with torch.no_grad():
        logits = reference_model("simplecnn-mnist")(((image - 0.1307) / 0.3081)[None])
        expected = torch.softmax(logits, dim=1)[0].numpy()
    rows = bars(at, "**Probability of each class (softmax)**")
    assert len(rows) == 10
    for name, text in rows:
        assert abs(float(text.rstrip("%")) / 100 - expected[int(name)]) <= 0.0005 + 1e-9


def test_a_stage_montage_downloads_as_a_png(monkeypatch) -> None:
    from streamlit.runtime.media_file_manager import MediaFileManager

    stored: dict[str, object] = {}
    add_deferred = MediaFileManager.add_deferred

    def remember(self, fn, *args, **kwargs):
        file_id = add_deferred(self, fn, *args, **kwargs)
        stored[file_id] = fn
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", remember)
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    button = next(b.proto for b in at.get("download_button") if b.proto.id.endswith("fm_dl_pool2"))
    picture = Image.open(io.BytesIO(stored[button.deferred_file_id]()))
    assert picture.format == "PNG" and picture.size[0] > 400
    # The slide of pool2: its maps by plain PyTorch, under a title that names the stage, the
    # image and the weights.
    from explorer.export.slides import montage_slide

    model = reference_model()
    with torch.no_grad():
        x = model.pool(torch.relu(model.conv1(reference_input(at))))
        pool2 = model.pool(torch.relu(model.conv2(x)))[0].numpy()
    item = gallery("cifar10")[0]
    title = (
        "pool2 — max-pool 2×2 → 8×8\n"
        f"image: {item.label_name} ({item.source}) · weights: Trained on CIFAR-10"
    )
    slide = montage_slide(pool2, "nonnegative", "layer", title)
    assert slide.titles[1].startswith("image: airplane (CIFAR-10 test_batch #")
    pixels = np.asarray(picture.convert("RGB"))
    assert pixels.shape == slide.pixels.shape
    title_band = slice(0, slide.picture_origin[1])
    np.testing.assert_array_equal(pixels[title_band], slide.pixels[title_band])
    assert np.abs(pixels.astype(int) - slide.pixels).max() <= 1  # the maps' colours too


def test_links_lead_from_the_answer_and_the_enlarged_map_to_their_arithmetic(at: AppTest) -> None:
    at.selectbox(key="net_layer").set_value("relu2").run()
    at.number_input(key="net_map").set_value(7).run()
    model = reference_model()
    with torch.no_grad():
        x = model.pool(torch.relu(model.conv1(reference_input(at))))
        relu2 = torch.relu(model.conv2(x))[0, 7].numpy()
        k = int(torch.softmax(model(reference_input(at)), dim=1).argmax())
    r, c = np.unravel_index(int(np.argmax(relu2)), relu2.shape)
    links = " ".join(m.value for m in at.markdown if "](inside?" in m.value)
    here = f"w=simplecnn-cifar10&img={at.selectbox(key='net_image').value}"  # the same input
    assert f"{here}&stage=relu2&cell=7%2C{r}%2C{c})" in links  # the map's largest value
    assert f"{here}&stage=softmax&cell={k}&class={k})" in links  # the answer back to the pixels
    assert f"{here}&stage=fc2&cell={k})" in links
