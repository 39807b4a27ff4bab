"""The Train page's set-up as one small, frozen, Streamlit-free object, like ``PlaygroundState``
and ``NetworkState``: every choice of a training run, so that the address bar is a link that
reproduces the run (same data, same settings, same seed → the same numbers on the CPU).

    state, warnings = TrainState.from_query({"data": "cifar10", "ep": "5"})
    state.settings()          # the explorer.live_training.TrainSettings it describes
    state.to_query()          # {"data": "cifar10", "ep": "5"}: only what differs from the default

Values are keys; labels come from :data:`TRAIN_CHOICES`, which feeds both the widgets and the
link checks (explorer.links.LinkReader).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from explorer.links import Choice, LinkReader
from explorer.live_training import ALL_IMAGES, TrainSettings

ALL = ALL_IMAGES  # "all the training images" in the images choice
_TRAINER = TrainSettings()
MAX_SEED = 9_999

#: Every closed choice of the Train page: field name → link parameter and labels.
TRAIN_CHOICES: dict[str, Choice] = {
    "dataset": Choice("data", {"mnist": "MNIST digits", "cifar10": "CIFAR-10 photos"}),
    "full_data": Choice(
        "full", {False: "The subset shipped with the app", True: "The server's full data set"}
    ),
    "images": Choice(
        "n", {**{n: f"{n:,}" for n in (50, 100, 200, 500, 1000, 2000, 5000)}, ALL: "all"}
    ),
    "epochs": Choice("ep", {n: str(n) for n in (1, 2, 3, 5, 10, 20, 30)}),
    "batch": Choice("bs", {n: str(n) for n in (16, 32, 64, 128, 256, 512)}),
    "optimiser": Choice("opt", {"sgd": "SGD with momentum", "adam": "Adam"}),
    "lr": Choice(
        "lr", {v: f"{v:g}" for v in (0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3)}
    ),
    "schedule": Choice("sched", {"onecycle": "One-cycle", "constant": "Constant"}),
    "weight_decay": Choice("wd", {v: f"{v:g}" for v in (0.0, 0.0001, 0.0005, 0.001, 0.005)}),
    "augment": Choice("aug", {False: "Off", True: "On (shifted, flipped or tilted copies)"}),
    "start": Choice(
        "from", {"random": "Random weights (seeded)", "shipped": "The shipped weights"}
    ),
}


@dataclass(frozen=True)
class TrainState:
    """A training run's set-up. The defaults are the page's "press Start" run: on this 2-core CPU
    a digit network passes 98% on held-out digits within about a minute (bench/bench_training)."""

    # The trainer's own defaults (explorer.live_training.TrainSettings, each with its reason
    # and measurement there): 98.70% on the 2,000 held-out digits in 43–47 s on this 2-core CPU.
    dataset: str = _TRAINER.dataset
    full_data: bool = _TRAINER.full_data
    images: int = _TRAINER.images
    epochs: int = _TRAINER.epochs
    batch: int = _TRAINER.batch
    optimiser: str = _TRAINER.optimiser
    lr: float = _TRAINER.lr
    schedule: str = _TRAINER.schedule
    weight_decay: float = _TRAINER.weight_decay
    augment: bool = _TRAINER.augment
    start: str = _TRAINER.start
    seed: int = _TRAINER.seed

    def choose(self, name: str, value: Any) -> TrainState:
        """This state with ``name`` set to ``value`` (ValueError for anything not offered)."""
        if name == "seed":
            if not (isinstance(value, int) and not isinstance(value, bool)):
                raise ValueError(f"{value!r} is not a whole number")
            if not 0 <= value <= MAX_SEED:
                raise ValueError(f"the seed is a whole number from 0 to {MAX_SEED}")
            return replace(self, seed=value)
        if value not in TRAIN_CHOICES[name].labels or type(value) is not type(
            next(iter(TRAIN_CHOICES[name].labels))
        ):
            raise ValueError(f"{value!r} is not a choice of {name}")
        changes: dict[str, Any] = {name: value}
        return replace(self, **changes)

    def settings(self) -> dict[str, Any]:
        """The run's settings, as ``explorer.live_training.TrainSettings`` takes them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def summary(self, train_count: int) -> str:
        """The run in one line, as the page shows it beside the controls; ``train_count`` is
        how many training images the data set has (what "all" means)."""
        label = {name: choice.labels[getattr(self, name)] for name, choice in TRAIN_CHOICES.items()}
        images = f"all {train_count:,}" if self.images == ALL else f"{self.images:,}"
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        start = "random weights" if self.start == "random" else "the shipped weights"
        return " · ".join(
            [
                f"{label['dataset']}, {images} training images",
                f"{epochs} in batches of {self.batch}",
                f"{label['optimiser']} at {label['lr']}, {label['schedule'].lower()}",
                f"weight decay {label['weight_decay']}",
                "augmented" if self.augment else "no augmentation",
                f"from {start}, seed {self.seed}",
            ]
        )

    def to_query(self) -> dict[str, str]:
        default = TrainState()
        params = {}
        for name, choice in TRAIN_CHOICES.items():
            if getattr(self, name) != getattr(default, name):
                params[choice.param] = choice.encode(getattr(self, name))
        if self.seed != default.seed:
            params["seed"] = str(self.seed)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: TrainState | None = None
    ) -> tuple[TrainState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored)."""
        read = LinkReader(params)
        changes: dict[str, Any] = {}
        for name, choice in TRAIN_CHOICES.items():
            value = read.choice(choice)
            if value is not None:
                changes[name] = value
        seed = read.whole("seed", 0, MAX_SEED, "a seed")
        if seed is not None:
            changes["seed"] = seed
        return replace(base or cls(), **changes), read.warnings
