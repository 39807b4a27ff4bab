"""The gallery's Feature maps pictures, warmed in the background when the server starts: the
warm-up computes exactly what the page asks for (the page then computes nothing for a warmed
image), and it starts only under a real server, once."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import explorer.stage_pictures
from explorer.ui import content, warm

TIMEOUT = 60
PAGE_CACHES = (
    content.capture,
    content.stage_pictures,
    content.input_pictures,
    content.enlarged_png,
    content.map_thumbnails,
    content.map_figure,
)


def test_a_warmed_gallery_image_costs_the_feature_maps_page_no_picture(monkeypatch) -> None:
    for cache in PAGE_CACHES:
        cache.clear()
    assert warm.warm_gallery(datasets=("cifar10",), limit=1) == 1

    def computed(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warmed picture was computed again")

    # The page's default: the first gallery image of the CIFAR-10 network, shared colours.
    monkeypatch.setattr(explorer.stage_pictures, "stage_montage", computed)
    monkeypatch.setattr(explorer.stage_pictures, "vector_strip", computed)
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("Every stage, every map" in h.value for h in at.subheader)


def test_without_a_warm_up_the_page_computes_its_pictures(monkeypatch) -> None:
    """The test above is not a hit by accident: cleared, the same page computes them."""
    for cache in PAGE_CACHES:
        cache.clear()
    calls: list[str] = []
    real = explorer.stage_pictures.stage_montage

    def counted(*args: object, **kwargs: object) -> object:
        calls.append("montage")
        return real(*args, **kwargs)

    monkeypatch.setattr(explorer.stage_pictures, "stage_montage", counted)
    AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    assert calls


def test_the_warm_up_starts_only_under_a_server(monkeypatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(warm, "_started", lambda: started.append(True))
    warm.start_warming()  # no runtime here (as under AppTest)
    assert started == []

    from streamlit.runtime import Runtime

    monkeypatch.setattr(Runtime, "exists", staticmethod(lambda: True))
    warm.start_warming()
    assert started == [True]


@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
def test_every_shipped_networks_gallery_is_warmed(dataset: str) -> None:
    assert warm.warm_gallery(datasets=(dataset,), limit=2) == 2


def test_the_warm_up_writes_to_no_students_page() -> None:
    """Started by a student's run, the thread must not carry that run's script context: a
    cache miss's spinner ("Loading the network…") would land in the student's page after
    their run and stay there, over what they click. And its cache misses log nothing."""

    def script() -> None:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        from explorer.ui import warm
        from explorer.ui.network import builtin_model

        seen = {}

        def work() -> None:
            seen["context"] = get_script_run_ctx(suppress_warning=True)
            builtin_model.clear()
            builtin_model("untrained", "cpu")  # a miss, with its spinner
            seen["hit"] = builtin_model("untrained", "cpu") is builtin_model("untrained", "cpu")

        assert get_script_run_ctx() is not None  # the student's run has one
        thread = warm.warming_thread(work)
        thread.start()
        thread.join()
        st.write(f"context {seen['context']} hit {seen['hit']}")

    import logging

    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    streamlits = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    streamlits.addHandler(handler)  # Streamlit's loggers do not propagate to pytest's
    try:
        at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    finally:
        streamlits.removeHandler(handler)
    assert not at.exception
    assert at.markdown[0].value == "context None hit True"
    assert not [r for r in logged if r.threadName == warm.THREAD_NAME]
