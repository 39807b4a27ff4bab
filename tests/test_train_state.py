"""The Train page's set-up (explorer.train_state): every choice travels in a link, bad values
keep the default and say so, and the settings are what the trainer takes."""

from __future__ import annotations

import pytest

from explorer.links import LINK_PARAMS
from explorer.train_state import ALL, TRAIN_CHOICES, TrainState


def test_every_choice_round_trips_through_a_link() -> None:
    for name, choice in TRAIN_CHOICES.items():
        for value in choice.labels:
            state = TrainState().choose(name, value)
            back, warnings = TrainState.from_query(state.to_query())
            assert warnings == [] and getattr(back, name) == value, (name, value)
    seeded, _ = TrainState.from_query(TrainState().choose("seed", 1234).to_query())
    assert seeded.seed == 1234


def test_the_default_run_needs_no_parameters() -> None:
    assert TrainState().to_query() == {}
    assert TrainState().images == ALL


def test_every_parameter_belongs_to_the_train_page() -> None:
    for choice in TRAIN_CHOICES.values():
        assert LINK_PARAMS[choice.param] == "train", choice.param
    assert LINK_PARAMS["seed"] == "train"


@pytest.mark.parametrize(
    "params, words",
    [
        ({"data": "imagenet"}, "Ignored the link's data='imagenet': it must be one of mnist"),
        ({"ep": "1000"}, "Ignored the link's ep='1000'"),
        ({"lr": "1e9"}, "Ignored the link's lr='1e9'"),
        ({"seed": "①"}, "Ignored the link's seed='①': it must be a seed from 0 to 9999."),
        ({"aug": "yes"}, "Ignored the link's aug='yes'"),
    ],
)
def test_bad_values_keep_the_default_and_say_so(params: dict, words: str) -> None:
    state, warnings = TrainState.from_query(params)
    assert state == TrainState()
    assert len(warnings) == 1 and warnings[0].startswith(words), warnings


def test_choose_refuses_what_a_browser_could_forge() -> None:
    for name, value in [("epochs", 4), ("augment", 1), ("lr", "0.01"), ("seed", -1),
                        ("seed", 10_000), ("seed", True), ("images", 3)]:  # fmt: skip
        with pytest.raises(ValueError):
            TrainState().choose(name, value)


def test_the_settings_are_every_field() -> None:
    settings = TrainState(dataset="cifar10", epochs=5, seed=7).settings()
    assert settings["dataset"] == "cifar10" and settings["epochs"] == 5 and settings["seed"] == 7
    assert set(settings) == {
        *("dataset", "full_data", "images", "epochs", "batch", "optimiser"),
        *("lr", "schedule", "weight_decay", "augment", "start", "seed"),
    }


def test_the_pages_defaults_are_the_trainers_measured_defaults() -> None:
    from explorer.live_training import TrainSettings

    assert TrainSettings.from_dict(TrainState().settings()) == TrainSettings()
