"""Plant bugs that change what a student sees, one at a time, and check the tests catch each.

    python -m scripts.plant_bugs            # every planted bug; prints a markdown table
    python -m scripts.plant_bugs verdict    # only those whose name contains "verdict"

A hand-written mutation test: each bug is a small edit a careless change could make (a sign,
an index, a swapped label, a dropped option), planted in the real source, followed by the test
files that guard that screen (no browser tests: they are slow and each bug here has a faster
guard; where the only guard is one test late in a slow file, that test alone). A bug the tests
do not catch "survives": the table says so, and the README says why a survivor is harmless or
which test was added. The source is restored after each bug, also when the run is interrupted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    name: str  # what a student would see
    path: str
    original: str  # must occur exactly once in the file
    planted: str
    tests: tuple[str, ...]


PAGE_CONV = ("tests/test_page_convolution.py",)
PAGE_FM = ("tests/test_page_feature_maps.py",)
PAGE_INSIDE = ("tests/test_page_inside.py",)
CACHES = ("tests/test_content_cache.py",)
EXPORT = ("tests/test_export.py",)
HOSTILE_WEIGHTS = ("tests/test_hostile_weights.py",)

BUGS: tuple[Bug, ...] = (
    Bug(
        "stride ignored in the output size",
        "explorer/convolution.py",
        "return (n + 2 * padding - span) // stride + 1",
        "return (n + 2 * padding - span) + 1",
        ("tests/test_convolution.py", *PAGE_CONV),
    ),
    Bug(
        "true convolution does not flip the kernel",
        "explorer/convolution.py",
        "return kernel[..., ::-1, ::-1].copy() if settings.flip else kernel.copy()",
        "return kernel.copy()",
        ("tests/test_convolution.py", *PAGE_CONV),
    ),
    Bug(
        "Sobel x has the wrong sign",
        "explorer/kernels.py",
        "_kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])",
        "_kernel([[1, 0, -1], [2, 0, -2], [1, 0, -1]])",
        ("tests/test_kernels.py",),
    ),
    Bug(
        "grayscale uses equal weights",
        "explorer/pixels.py",
        "np.array([0.299, 0.587, 0.114])",
        "np.array([1 / 3, 1 / 3, 1 / 3])",
        ("tests/test_pixels.py", "tests/test_playground.py"),
    ),
    Bug(
        "a fraction's denominator is ignored",
        "explorer/numbers.py",
        "value = values[0] / values[1]",
        "value = values[0]",
        ("tests/test_numbers.py", "tests/test_kernels.py"),
    ),
    Bug(
        "EXIF rotation goes the wrong way",
        "explorer/uploads.py",
        "6: lambda a: np.rot90(a, -1),",
        "6: lambda a: np.rot90(a, 1),",
        ("tests/test_uploads.py",),
    ),
    Bug(
        "the link forgets the padding",
        "explorer/playground_state.py",
        "            if value != getattr(default, name):\n",
        '            if value != getattr(default, name) and name != "padding":\n',
        ("tests/test_playground_state.py", *PAGE_CONV),
    ),
    Bug(
        "resizing the custom grid drops the typed cells",
        "explorer/playground_state.py",
        'return old[r][c] if r < len(old) and c < len(old[0]) else "0"',
        'return "0"',
        ("tests/test_playground_state.py", *PAGE_CONV),
    ),
    Bug(
        "the PyTorch check always shows ✓",
        "explorer/reference.py",
        "return self.difference <= self.tolerance",
        "return True",
        PAGE_CONV,
    ),
    Bug(
        "the CSV download holds the kernel",
        "explorer/ui/playground.py",
        "lambda: result_csv(result)",
        "lambda: result_csv(kernel)",
        PAGE_CONV,
    ),
    Bug(
        "the result line swaps its minimum and maximum",
        "explorer/ui/playground.py",
        "**{format_value(result.min())}** to **{format_value(result.max())}**",
        "**{format_value(result.max())}** to **{format_value(result.min())}**",
        PAGE_CONV,
    ),
    Bug(
        "'each colour channel separately' sums them",
        "explorer/playground_state.py",
        'return picture.channels, "per_channel" if result_mode == "per_channel" else "sum"',
        'return picture.channels, "sum"',
        ("tests/test_playground_state.py", *PAGE_CONV),
    ),
    Bug(
        "the CSV writes rows as columns",
        "explorer/share.py",
        'lines = [",".join(map(repr, row)) for row in np.atleast_2d(values).tolist()]',
        'lines = [",".join(map(repr, row)) for row in np.atleast_2d(values).T.tolist()]',
        ("tests/test_share.py", *PAGE_CONV),
    ),
    Bug(
        "the verdict says correct when it is wrong",
        "explorer/network_view.py",
        "else answer == true_label",
        "else answer != true_label",
        ("tests/test_network_view.py", *PAGE_FM),
    ),
    Bug(
        "the legend swaps blue and red",
        "explorer/network_view.py",
        'return f"blue {low:.3g} · white 0 · red {high:.3g}"',
        'return f"blue {high:.3g} · white 0 · red {low:.3g}"',
        ("tests/test_network_view.py", *PAGE_FM),
    ),
    Bug(
        "the enlarged map is always map 0",
        "explorer/ui/content.py",
        "return render.heatmap_figure(arr[index],",
        "return render.heatmap_figure(arr[0],",
        PAGE_FM,
    ),
    Bug(
        "the probabilities shown are the logits",
        "pages/feature_maps.py",
        "zip(ctx.classes, map(float, acts.probabilities), strict=True)",
        "zip(ctx.classes, map(float, acts.logits), strict=True)",
        PAGE_FM,
    ),
    Bug(
        "'each map on its own' changes nothing",
        "pages/feature_maps.py",
        'per_map = NET.get().scale == "map"',
        "per_map = False",
        PAGE_FM,
    ),
    Bug(
        "ReLU lets negative numbers through",
        "explorer/features.py",
        "        return torch.relu(x)\n",
        '        return x if stage.name == "relu2" else torch.relu(x)\n',
        ("tests/test_features.py", *PAGE_FM),
    ),
    Bug(
        "softmax over the wrong axis",
        "explorer/features.py",
        "return torch.softmax(x, dim=1)",
        "return torch.softmax(x, dim=0)",
        ("tests/test_features.py", *PAGE_FM),
    ),
    Bug(
        "the channel views show the wrong channel",
        "explorer/network_view.py",
        "ChannelView(name, image[:, :, i], mean, std,",
        "ChannelView(name, image[:, :, 0], mean, std,",
        ("tests/test_network_view.py",),
    ),
    Bug(
        "the parameter count misses the biases",
        "explorer/architecture.py",
        "return sum(p.numel() for p in params), sum(",
        "return sum(p.numel() for p in params if p.ndim > 1), sum(",
        ("tests/test_model.py", "tests/test_page_network.py"),
    ),
    Bug(
        "the bars highlight the wrong class",
        "explorer/render.py",
        'colour = "#c0392b" if name == highlight else "#8894a0"',
        'colour = "#c0392b" if name != highlight else "#8894a0"',
        ("tests/test_network_view.py",),
    ),
    Bug(
        "a canvas larger than asked is accepted",
        "explorer/uploads.py",
        "if png_width > width or png_height > height:",
        "if False:",
        ("tests/test_uploads.py", "tests/test_hostile_inputs.py"),
    ),
    Bug(
        "a sent filter arrives as another channel",
        "explorer/features.py",
        "values, what = w[CHANNELS.index(channel)], channel",
        "values, what = w[0], channel",
        ("tests/test_features.py", *PAGE_FM),
    ),
    # ---------------------------------------------------------------- Inside the network
    Bug(
        "the conv sum's table drops the first channel listed",
        "explorer/ui/inside_arithmetic.py",
        '{fmt(how.channel_sums[i])} |" for i in how.shown]',
        '{fmt(how.channel_sums[i])} |" for i in how.shown[1:]]',
        PAGE_INSIDE,
    ),
    Bug(
        "a fully connected unit's value leaves out the bias",
        "explorer/inside.py",
        "value = float(products.sum() + bias)",
        "value = float(products.sum())",
        ("tests/test_inside.py",),
    ),
    Bug(
        "the softmax table's sum row leaves out the chosen class",
        "explorer/ui/inside_arithmetic.py",
        'rows.append(f"| **sum** | | **{how.total:.6g}** |',
        'rows.append(f"| **sum** | | **{how.total - how.exps[k]:.6g}** |',
        PAGE_INSIDE,
    ),
    Bug(
        "the class chosen for the attributions is ignored",
        "explorer/ui/inside.py",
        'ss["in_target"] = predicted if state.target is None else state.target',
        'ss["in_target"] = predicted',
        PAGE_INSIDE,
    ),
    Bug(
        "the receptive field grows by one jump too many",
        "explorer/receptive_field.py",
        "field, start, jump = field + (k - 1) * jump, start - p * jump, jump * s",
        "field, start, jump = field + k * jump, start - p * jump, jump * s",
        ("tests/test_receptive_field.py",),
    ),
    Bug(
        "Grad-CAM without its ReLU",
        "explorer/attribution.py",
        "relu_attributions=True",
        "relu_attributions=False",
        ("tests/test_attribution.py",),
    ),
    Bug(
        "a click on the numbers explains the cell to its right",
        "explorer/ui/inside.py",
        "row, col = int(row), list(table.columns).index(column)",
        "row, col = int(row), list(table.columns).index(column) + 1",
        ("tests/test_hostile_pages.py::test_a_forged_click_on_the_inside_numbers_is_ignored",),
    ),
    Bug(
        "the receptive field's sentence swaps rows and columns",
        "explorer/ui/inside_sections.py",
        'where = f"input rows {box.top}–{box.bottom} and columns {box.left}–{box.right}"',
        'where = f"input rows {box.left}–{box.right} and columns {box.top}–{box.bottom}"',
        PAGE_INSIDE,
    ),
    # ---------------------------------------------------------------- the caches' keys
    Bug(
        "the attributions' identity forgets the class",
        "explorer/ui/content.py",
        'identity=f"{ctx.identity}|{inp.key}|{target}"',
        'identity=f"{ctx.identity}|{inp.key}"',
        CACHES,
    ),
    Bug(
        "the capture's identity forgets the image",
        "explorer/ui/content.py",
        'identity=f"{ctx.identity}|{inp.key}")',
        "identity=ctx.identity)",
        CACHES,
    ),
    Bug(
        "the capture's identity forgets the weights",
        "explorer/ui/content.py",
        'identity=f"{ctx.identity}|{inp.key}")',
        "identity=inp.key)",
        CACHES,
    ),
    Bug(
        "an input's key is its description, not its pixels",
        "explorer/features.py",
        "return hashlib.sha256(np.ascontiguousarray(self.image).tobytes()).hexdigest()",
        "return hashlib.sha256(self.description.encode()).hexdigest()",
        CACHES,
    ),
    Bug(
        "a network's identity forgets the device",
        "explorer/ui/network.py",
        'return f"{self.weights_id}@{self.device.device}"',
        "return self.weights_id",
        CACHES,
    ),
    Bug(
        "a network's identity forgets the weights",
        "explorer/ui/network.py",
        'return f"{self.weights_id}@{self.device.device}"',
        'return f"@{self.device.device}"',
        CACHES,
    ),
    Bug(
        "uploaded weights read as another dataset keep their old identity",
        "explorer/ui/network.py",
        'f"upload:{file.sha256}:{trained_on}",',
        'f"upload:{file.sha256}",',
        (
            "tests/test_page_feature_maps.py::test_uploaded_weights_read_as_another_dataset_are_recomputed",
        ),
    ),
    Bug(
        "the optimised input's cache forgets the conv3 map",
        "explorer/ui/inside_sections.py",
        "key = (ctx.identity, channel, MAXIMISE_STEPS, MAXIMISE_SEED)",
        "key = (ctx.identity, MAXIMISE_STEPS, MAXIMISE_SEED)",
        (*CACHES, *PAGE_INSIDE),
    ),
    Bug(
        "a class chosen for one image stays chosen for the next",
        "explorer/ui/inside.py",
        'mark = f"{ctx.weights_id}|{inp.key}"',
        "mark = ctx.weights_id",
        PAGE_INSIDE,
    ),
    # ---------------------------------------------------------------- exports
    Bug(
        "a slide's colour bar runs the wrong way",
        "explorer/export/slides.py",
        "ramp = np.tile(np.linspace(bar.lo, bar.hi, x1 - x0), (y1 - y0, 1))",
        "ramp = np.tile(np.linspace(bar.hi, bar.lo, x1 - x0), (y1 - y0, 1))",
        EXPORT,
    ),
    Bug(
        "a slide's colour bar swaps its end numbers",
        "explorer/export/slides.py",
        "labels = [(format_value(lo), 0.0), (format_value(hi), 1.0)]",
        "labels = [(format_value(hi), 0.0), (format_value(lo), 1.0)]",
        EXPORT,
    ),
    Bug(
        "a stage's montage slide has another stage's title",
        "explorer/ui/content.py",
        '"map" if per_map else "layer", info.title)',
        '"map" if per_map else "layer", STAGE_BY_NAME["conv1"].title)',
        PAGE_FM,
    ),
    Bug(
        "the GIF plays its frames backwards",
        "explorer/export/animation.py",
        "frames = _gif_frames(_draw_frames(trace, layout))",
        "frames = _gif_frames(reversed(list(_draw_frames(trace, layout))))",
        EXPORT,
    ),
    Bug(
        "the exported script uses the wrong padding",
        "explorer/export/code.py",
        'lines.append(f"padding, stride, dilation = {padding}, {s.stride}, {s.dilation}")',
        'lines.append(f"padding, stride, dilation = {padding + 1}, {s.stride}, {s.dilation}")',
        EXPORT,
    ),
    Bug(
        "a slide drops the minus sign of negative numbers",
        "explorer/export/text.py",
        '"\\N{MINUS SIGN}": "-",',
        '"\\N{MINUS SIGN}": "",',
        EXPORT,
    ),
    Bug(
        "the per-channel CSV swaps row and column",
        "explorer/share.py",
        'lines += [f"{i // w},{i % w}," + ",".join(map(repr, p)) for i, p in enumerate(pixels)]',
        'lines += [f"{i % w},{i // w}," + ",".join(map(repr, p)) for i, p in enumerate(pixels)]',
        ("tests/test_share.py",),
    ),
    # ---------------------------------------------------------------- weights
    Bug(
        "a weights file one byte over the limit is read",
        "explorer/weights_file.py",
        "    if len(data) > MAX_WEIGHTS_BYTES:\n",
        "    if len(data) > MAX_WEIGHTS_BYTES + 1:\n",
        HOSTILE_WEIGHTS,
    ),
    Bug(
        "a tensor that declares more than it stores is not counted",
        "explorer/weights_file.py",
        "if max(stored, declared) > MAX_WEIGHTS_BYTES:",
        "if stored > MAX_WEIGHTS_BYTES:",
        HOSTILE_WEIGHTS,
    ),
    Bug(
        "a tensor of the wrong shape but the right size is accepted",
        "explorer/weights_file.py",
        "if tuple(value.shape) != shape:",
        "if value.numel() != math.prod(shape):",
        HOSTILE_WEIGHTS,
    ),
    Bug(
        "the MNIST weights get CIFAR-10's normalisation",
        "explorer/model.py",
        "            pre = _preprocessing_from_card(card, fallback)\n",
        "            pre = _preprocessing_from_card(card, fallback)\n"
        '            if key == "simplecnn-mnist":\n'
        "                pre = Preprocessing(\n"
        '                    CIFAR10_PREPROCESSING.mean, CIFAR10_PREPROCESSING.std, "digit"\n'
        "                )\n",
        PAGE_FM,
    ),
    Bug(
        "torch.load may run the code in a file (weights_only=False)",
        "explorer/weights_file.py",
        "return torch.load(io.BytesIO(data), map_location=location, weights_only=True)",
        "return torch.load(io.BytesIO(data), map_location=location, weights_only=False)",
        HOSTILE_WEIGHTS,
    ),
    Bug(
        "NaN weights are accepted",
        "explorer/weights_file.py",
        "if not torch.isfinite(value).all():",
        "if False:",
        HOSTILE_WEIGHTS,
    ),
    Bug(
        "the untrained network is not seeded",
        "explorer/model.py",
        "            torch.manual_seed(seed)\n",
        "",
        PAGE_FM,
    ),
)


def run_tests(tests: tuple[str, ...]) -> bool:
    """True when the tests fail (the bug is caught)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return done.returncode != 0


def plant(bug: Bug) -> tuple[bool, float]:
    """Plant ``bug``, run its tests, restore the file. Returns (caught, seconds)."""
    path = ROOT / bug.path
    source = path.read_text()
    if source.count(bug.original) != 1:
        raise SystemExit(
            f"{bug.name}: the original text occurs {source.count(bug.original)}× "
            f"in {bug.path}; update the bug list"
        )
    path.write_text(source.replace(bug.original, bug.planted))
    t0 = time.perf_counter()
    try:
        caught = run_tests(bug.tests)
    finally:
        path.write_text(source)
    return caught, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    chosen = [b for b in BUGS if not argv or any(a in b.name for a in argv)]
    print("| planted bug (what a student would see) | file | caught | s |")
    print("|---|---|---|---|")
    survivors = 0
    for bug in chosen:
        caught, seconds = plant(bug)
        survivors += not caught
        verdict = "yes" if caught else "**survived**"
        print(f"| {bug.name} | `{bug.path}` | {verdict} | {seconds:.0f} |", flush=True)
    print(f"\n{len(chosen) - survivors} of {len(chosen)} planted bugs caught.")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
