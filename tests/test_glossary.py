"""The glossary and the beginner's path: every page on the path is in the app's navigation in
the path's order, every word a page lists is defined, the numbers in the definitions and recaps
are the model's own, and a page's end shows its recap, its words and the next page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.glossary import TERM_BY_KEY, TERMS, terms
from explorer.learning_path import LESSON, PATH, STOP_BY_PAGE, navigation, next_stop
from explorer.model import SimpleCNN
from explorer.receptive_field import field_steps

ROOT = Path(__file__).resolve().parents[1]


def registered() -> list[str]:
    """The pages app.py registers: explorer.learning_path.navigation(), all of them."""
    source = (ROOT / "app.py").read_text()
    assert "for i, p in enumerate(navigation())" in source and "st.Page(p.page" in source
    return [p.page for p in navigation()]


def test_the_path_is_the_navigation_and_every_word_is_defined() -> None:
    pages = registered()
    files = sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    assert sorted(pages) == files  # every page is registered, none twice
    assert [p for p in pages if p not in STOP_BY_PAGE] == ["pages/glossary.py"]
    assert PATH[:6] == LESSON and LESSON[-1].page == "pages/train.py"
    for stop in PATH:
        assert stop.terms() and all(t.key in TERM_BY_KEY for t in stop.terms())
    assert next_stop(PATH[0].page) == PATH[1] and next_stop(PATH[-1].page) is None
    assert len({t.key for t in TERMS}) == len(TERMS)
    with pytest.raises(KeyError, match="nope"):
        terms("logit", "nope")


def test_the_numbers_in_the_words_are_the_models() -> None:
    model = SimpleCNN()
    total = sum(p.numel() for p in model.parameters())
    text = " ".join(t.meaning for t in TERMS) + " ".join(" ".join(s.recap) for s in PATH)
    assert f"{total:,}" in text  # 1,147,466
    assert model.fc1.weight.numel() / total > 0.9  # "most of its weights sit in fc1"
    assert "fc1 turns the 2,048 numbers of pool3 into 512" in text
    assert (model.fc1.in_features, model.fc1.out_features) == (2048, 512)
    outs = [model.conv1.out_channels, model.conv2.out_channels, model.conv3.out_channels]
    assert "conv1 writes 32, conv2 64, conv3 128" in text and outs == [32, 64, 128]
    assert f"{model.conv1.weight[0].numel()} numbers plus a bias" in text
    fields = {s.stage: s.field for s in field_steps()}
    field_text = TERM_BY_KEY["receptive-field"].meaning
    for stage in ("conv1", "conv2", "conv3"):
        assert f"{stage} {fields[stage]}×{fields[stage]}" in field_text


def test_the_glossary_page_lists_every_word() -> None:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page("pages/glossary.py")
    at.run()
    assert not at.exception
    assert [h.value for h in at.subheader] == [t.word for t in TERMS]
    assert at.title[0].value == "Words used here"
