"""Hostile weights files: every one is refused with a WeightsError whose sentence names what is
wrong, cheaply (CPU time and memory), and without running anything it contains.

Every file is generated here, in code (no binary blobs): by torch.save, or by the small zip and
pickle writers below, which craft what torch.save never writes — records whose declared sizes
lie, deflate bombs, storages that claim more than they hold. A few valid variants are loaded at
the end, so that the checks are known not to refuse the files students really make.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.model import (
    MAX_CLASSES,
    SimpleCNN,
    WeightsError,
    build_model,
    expected_shapes,
)
from explorer.weights_file import MAX_WEIGHTS_BYTES, load_state_dict_bytes

ROOT = Path(__file__).resolve().parent.parent
MARKER = Path(tempfile.gettempdir()) / f"cnn-explorer-pwned-{os.getpid()}"
CPU_BUDGET_S = 2.0  # process CPU time per refusal (all threads), against ~0.01–0.2 s measured
MEMORY_BUDGET_MB = 512


# ------------------------------------------------------------------------ writers of files


def saved(obj: object, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


@cache
def _base_state() -> OrderedDict[str, torch.Tensor]:
    return build_model(seed=1).state_dict()


def state(**changes: object) -> OrderedDict[str, object]:
    """A valid SimpleCNN state_dict with some entries replaced (``None``: removed). Keys are
    written with ``__`` for ``.``: ``state(conv1__weight=...)``."""
    out: OrderedDict[str, object] = OrderedDict(_base_state())
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del out[key]
        else:
            out[key] = value
    return out


def raw_zip(records: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive written byte by byte: ``(name, body, method, crc, declared_size)`` per
    record, where ``body`` is stored as given (already deflated for method 8) and
    ``declared_size`` is what the headers claim the record unpacks to — true or not."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, body, method, crc, size in records:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                0,
                method,
                0,
                0,
                crc,
                len(body),
                size,
                len(encoded),
                0,
            )
        )
        out.write(encoded + body)
        directory.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0,
                crc,
                len(body),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        directory.write(encoded)
    start = out.tell()
    out.write(directory.getvalue())
    out.write(
        struct.pack(
            "<4s4H2LH",
            b"PK\x05\x06",
            0,
            0,
            len(records),
            len(records),
            len(directory.getvalue()),
            start,
            0,
        )
    )
    return out.getvalue()


def stored(name: str, body: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, body, 0, zlib.crc32(body), len(body))


class StorageRef:
    """A storage record that a crafted index points to; ``numel`` is what the index *declares*
    (in elements of ``storage_type``), whatever the record holds."""

    def __init__(self, key: str, numel: int, storage_type: type = torch.FloatStorage) -> None:
        self.key, self.numel, self.storage_type = key, numel, storage_type


class TensorRef:
    """A tensor of any declared size and stride over a StorageRef, pickled as torch.save does
    (``torch._utils._rebuild_tensor_v2``)."""

    def __init__(self, storage: StorageRef, size: tuple, stride: tuple) -> None:
        self.storage, self.size, self.stride = storage, size, stride

    def __reduce__(self):  # noqa: ANN204
        rebuild = torch._utils._rebuild_tensor_v2
        return (rebuild, (self.storage, 0, self.size, self.stride, False, OrderedDict()))


class _IndexPickler(pickle.Pickler):
    def persistent_id(self, obj: object):  # noqa: ANN201
        if isinstance(obj, StorageRef):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def torch_zip(index: object, records: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A torch.save-shaped archive: ``index`` pickled as ``archive/data.pkl`` (StorageRef →
    persistent ids), then ``records`` (named ``archive/data/<key>``) and the small records."""
    buf = io.BytesIO()
    _IndexPickler(buf, protocol=2).dump(index)
    return raw_zip(
        [
            stored("archive/data.pkl", buf.getvalue()),
            stored("archive/byteorder", b"little"),
            *records,
            stored("archive/version", b"3\n"),
        ]
    )


def crafted_state(**overrides: tuple[StorageRef, tuple, tuple]) -> tuple[dict, list]:
    """A valid state_dict as TensorRefs over stored records, with some entries replaced by
    ``(storage, size, stride)``; returns the index and the records of the valid entries."""
    index, records = OrderedDict(), []
    for i, (key, tensor) in enumerate(_base_state().items()):
        name = key.replace(".", "__")
        if name in overrides:
            index[key] = TensorRef(*overrides[name])
            continue
        body = tensor.numpy().tobytes()
        ref = StorageRef(str(i), tensor.numel())
        index[key] = TensorRef(ref, tuple(tensor.shape), tensor.stride())
        records.append(stored(f"archive/data/{i}", body))
    return index, records


def deflate_bomb(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes (a multiple of 16 MiB) and its CRC, made
    without compressing ``size`` bytes: after a full flush a deflate segment can be repeated."""
    chunk = bytes(16 * 2**20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return segment * (size // len(chunk)) + compressor.flush(), crc


BOMB = 1536 * 2**20  # 1.5 GiB


def zip_bomb() -> bytes:
    """fc1.weight's storage is a 1.5 GiB deflated record (1.5 MB in the file), honestly
    declared; the tensor itself has the right shape, so only the sizes give it away."""
    body, crc = deflate_bomb(BOMB)
    big = StorageRef("big", BOMB // 4)
    index, records = crafted_state(fc1__weight=(big, (512, 2048), (2048, 1)))
    return torch_zip(index, [*records, ("archive/data/big", body, 8, crc, BOMB)])


def lying_zip_bomb() -> bytes:
    """The same bomb, but its headers claim the record unpacks to 4 MiB, fc1.weight's size."""
    body, _ = deflate_bomb(BOMB)
    size = 512 * 2048 * 4
    ref = StorageRef("big", size // 4)
    index, records = crafted_state(fc1__weight=(ref, (512, 2048), (2048, 1)))
    return torch_zip(
        index, [*records, ("archive/data/big", body, 8, zlib.crc32(bytes(size)), size)]
    )


def declared_huge_storage() -> bytes:
    """The index declares a 1.5 GiB storage for fc1.weight; the record holds 8 bytes."""
    ref = StorageRef("big", BOMB // 4)
    index, records = crafted_state(fc1__weight=(ref, (512, 2048), (2048, 1)))
    return torch_zip(index, [*records, stored("archive/data/big", bytes(8))])


def expanded_classes(n: int) -> bytes:
    """fc2 with ``n`` classes as stride-0 ("expanded") tensors: one stored row, ~4.6 MB."""
    return saved(
        state(fc2__weight=torch.zeros(1, 512).expand(n, 512), fc2__bias=torch.zeros(1).expand(n))
    )


def many_records(n: int) -> bytes:
    return raw_zip([stored(f"archive/data/{i}", b"") for i in range(n)])


def index_of(obj: object) -> bytes:
    return torch_zip(obj, [])


def deep_index(depth: int) -> bytes:
    """An index that unpickles to a list nested ``depth`` deep, written opcode by opcode
    (pickle itself would recurse): ``depth`` EMPTY_LISTs, then APPENDs that fold them up."""
    return raw_index(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")


def raw_index(pkl: bytes) -> bytes:
    """A torch.save-shaped archive whose index is the given pickle bytes."""
    return raw_zip([stored("archive/data.pkl", pkl), stored("archive/version", b"3\n")])


def in_zip(name: str, body: bytes) -> bytes:
    return raw_zip([stored(name, body)])


def replaced_record(data: bytes, record: str, flip_at: int) -> bytes:
    """``data`` with one byte flipped inside the named record's stored bytes."""
    start = data.index(record.encode()) + len(record) + 64  # past its local header, into the body
    out = bytearray(data)
    out[start + flip_at] ^= 0xFF
    return bytes(out)


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def safetensors_bytes() -> bytes:
    """A safetensors file as its format defines it: an 8-byte header length, a JSON header
    naming each tensor's dtype, shape and byte range, then the raw numbers."""
    header, body = {}, b""
    for key, tensor in _base_state().items():
        raw = tensor.numpy().tobytes()
        header[key] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [len(body), len(body) + len(raw)],
        }
        body += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k.replace(".", "_"): v.numpy() for k, v in _base_state().items()})
    return buf.getvalue()


def npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, _base_state()["conv1.weight"].numpy())
    return buf.getvalue()


# ------------------------------------------------------------- pickles that would run code


class RunsShell:
    """Unpickling this runs a shell command that creates the marker file."""

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {MARKER}",))


class RunsEval:
    def __reduce__(self):  # noqa: ANN204
        return (eval, (f"open({str(MARKER)!r}, 'w')",))


class RunsSubprocess:
    def __reduce__(self):  # noqa: ANN204
        return (subprocess.call, (["touch", str(MARKER)],))


class TensorSubclass(torch.Tensor):
    """A tensor subclass: loading it means importing and running this module's code."""


# ----------------------------------------------------------------------------- the cases

Case = tuple[str, Callable[[], bytes], str]


def _cases() -> list[Case]:
    keys = list(expected_shapes())
    full = saved(_base_state())
    cases: list[Case] = [
        # Pickles that would run code: refused, nothing runs (the marker is checked).
        (
            "code: os.system in a state_dict",
            lambda: saved(state(conv1__weight=RunsShell())),
            r"refers to Python code \(posix\.system\).*nothing in it ran",
        ),
        ("code: eval at the top", lambda: saved(RunsEval()), r"Python code \(builtins\.eval\)"),
        (
            "code: subprocess in a wrapper",
            lambda: saved({"state_dict": _base_state(), "hook": RunsSubprocess()}),
            r"Python code \(subprocess\.call\)",
        ),
        (
            "code: a plain pickle",
            lambda: pickle.dumps(RunsShell()),
            r"plain Python pickle.*would import and run Python code \(posix\.system\)",
        ),
        (
            "code: old-format torch.save",
            lambda: saved({"x": RunsShell()}, _use_new_zipfile_serialization=False),
            r"torch\.save's old format",
        ),
        (
            "code: a tensor subclass",
            lambda: saved(state(fc1__bias=torch.zeros(512).as_subclass(TensorSubclass))),
            r"Python code \(tests\.test_hostile_weights\.TensorSubclass\)",
        ),
        # Keys.
        *[
            (
                f"missing key {k}",
                lambda k=k: saved(state(**{k.replace(".", "__"): None})),
                rf"Key '{re.escape(k)}' is missing",
            )
            for k in keys
        ],
        (
            "extra key",
            lambda: saved(state(bn1__weight=torch.ones(32))),
            r"Unexpected key 'bn1\.weight'",
        ),
        (
            "renamed keys",
            lambda: saved({f"features.{k}": v for k, v in _base_state().items()}),
            r"Key 'conv1\.weight' is missing.*holds 'features\.conv1\.weight'",
        ),
        (
            "another architecture",
            lambda: saved(
                torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).state_dict()
            ),
            r"Key 'conv1\.weight' is missing",
        ),
        (
            "a non-string key",
            lambda: saved({0: torch.zeros(1), **_base_state()}),
            r"has a key 0 \(int\)",
        ),
        (
            "nested by layer",
            lambda: saved({"conv1": {"weight": torch.zeros(32, 3, 3, 3)}}),
            r"Key 'conv1\.weight' is missing",
        ),
        (
            "wrapped twice",
            lambda: saved({"state_dict": {"state_dict": _base_state()}}),
            r"Key 'conv1\.weight' is missing",
        ),
        ("an empty dict", lambda: saved({}), r"Key 'conv1\.weight' is missing.*holds nothing"),
        (
            "an index that is not a pickle",
            lambda: raw_index(b"\x80\x02\xff."),
            r"could not be read as PyTorch weights .*Unsupported operand 255",
        ),
        (
            "a checkpoint under another name",
            lambda: saved({"model": _base_state(), "epoch": 3}),
            r"holds 'model', 'epoch'\)",
        ),
        # Shapes: every key, one wrong dimension.
        *[
            (
                f"wrong shape {k}",
                lambda k=k, s=s: saved(
                    state(**{k.replace(".", "__"): torch.zeros(*s[:-1], s[-1] + 1)})
                ),
                rf"'{re.escape(k)}' has shape .* but SimpleCNN expects {re.escape(str(s))}",
            )
            for k, s in expected_shapes().items()
            if k != "fc2.weight"
        ],
        (
            "wrong shape fc2.weight",
            lambda: saved(state(fc2__weight=torch.zeros(10, 256))),
            r"'fc2\.weight' has shape \(10, 256\), but SimpleCNN expects \(10, 512\)",
        ),
        (
            "fc2 with no classes",
            lambda: saved(state(fc2__weight=torch.zeros(0, 512))),
            r"'fc2\.weight' has shape \(0, 512\)",
        ),
        (
            "a flat fc1.weight",
            lambda: saved(state(fc1__weight=torch.zeros(512 * 2048))),
            r"'fc1\.weight' has shape \(1048576,\)",
        ),
        # Dtypes.
        *[
            (
                f"dtype {dtype}",
                lambda dtype=dtype: saved(
                    state(conv1__weight=torch.zeros(32, 3, 3, 3, dtype=dtype))
                ),
                rf"'conv1\.weight' holds {re.escape(str(dtype))} values",
            )
            for dtype in (
                torch.int32,
                torch.int64,
                torch.int8,
                torch.uint8,
                torch.bool,
                torch.complex64,
                torch.complex128,
                torch.float8_e4m3fn,
            )
        ],
        # Numbers.
        (
            "NaN",
            lambda: saved(state(conv1__bias=torch.full((32,), float("nan")))),
            r"'conv1\.bias' contains NaN or infinite values",
        ),
        (
            "+inf",
            lambda: saved(
                state(
                    fc1__weight=_base_state()["fc1.weight"]
                    .clone()
                    .index_fill_(0, torch.tensor([7]), float("inf"))
                )
            ),
            r"'fc1\.weight' contains NaN or infinite",
        ),
        (
            "-inf in float16",
            lambda: saved(state(fc2__bias=torch.full((10,), -torch.inf, dtype=torch.float16))),
            r"'fc2\.bias' contains NaN or infinite",
        ),
        (
            "huge values",
            lambda: saved(state(conv2__weight=torch.full((64, 32, 3, 3), 1e7))),
            r"'conv2\.weight' has values up to 1e\+07",
        ),
        (
            "float64 beyond float32",
            lambda: saved(state(fc2__bias=torch.full((10,), 1e300, dtype=torch.float64))),
            r"'fc2\.bias' contains NaN or infinite",
        ),
        (
            "1e6 everywhere: scores overflow",
            lambda: saved(
                OrderedDict((k, torch.full_like(v, 1e6)) for k, v in _base_state().items())
            ),
            r"scores overflow \(inf/NaN\)",
        ),
        # Cut short, at many places: inside the index, the records, the directory, the end.
        *[
            (
                f"cut at {cut}",
                lambda cut=cut: full[:cut] if cut > 0 else full[: len(full) + cut],
                r"cut short or damaged",
            )
            for cut in (
                1,
                2,
                3,
                4,
                30,
                64,
                200,
                700,
                1100,
                4000,
                80_000,
                2_000_000,
                -2000,
                -200,
                -100,
                -60,
                -23,
                -22,
                -21,
                -1,
            )
        ],
        # Damaged in place.
        (
            "a byte flipped in a tensor",
            lambda: replaced_record(full, "archive/data/6", 1000),
            r"record 'archive/data/6' does not match its checksum",
        ),
        (
            "a byte flipped in the index",
            lambda: replaced_record(full, "archive/data.pkl", 40),
            r"record 'archive/data\.pkl' does not match its checksum",
        ),
        (
            "a byte flipped in the directory",
            lambda: full[:-100] + b"\xff" + full[-99:],
            r"cut short or damaged",
        ),
        # Bombs: small files that declare or unpack to far more than the budget.
        (
            "zip bomb: a 1.5 GiB deflated record",
            zip_bomb,
            r"would unpack to 1,6\d\d\.\d MB \(record 'archive/data/big'",
        ),
        (
            "zip bomb: headers that lie",
            lying_zip_bomb,
            r"record 'archive/data/big' does not unpack to the size its header declares",
        ),
        (
            "an index declaring a 1.5 GiB storage",
            declared_huge_storage,
            r"tensors declare 1,6\d\d\.\d MB of numbers",
        ),
        (
            "stride-0: 1,000,000 classes",
            lambda: expanded_classes(1_000_000),
            r"'fc2\.weight' has 1,000,000 rows, one per class; the app shows at most 1,000",
        ),
        ("stride-0: 100,000 classes", lambda: expanded_classes(100_000), r"has 100,000 rows"),
        (
            "1,001 real classes",
            lambda: saved(SimpleCNN(MAX_CLASSES + 1).state_dict()),
            r"has 1,001 rows, one per class",
        ),
        (
            "stride-0 junk beside the weights",
            lambda: saved({"state_dict": _base_state(), "junk": torch.zeros(1).expand(10**9)}),
            r"tensors declare 4,00\d\.\d MB",
        ),
        ("20,000 empty records", lambda: many_records(20_000), r"directory is 1\.\d MB"),
        (
            "a 2 MB index",
            lambda: index_of(list(range(450_000))),
            r"index \(data\.pkl\) is 2\.\d MB",
        ),
        ("an index nested 50,000 deep", lambda: deep_index(50_000), r"holds a list, not a"),
        (
            "a 0.9 MB index of numbers",
            lambda: index_of(list(range(180_000))),
            r"holds a list, not a state_dict",
        ),
        ("an oversize file", lambda: bytes(MAX_WEIGHTS_BYTES + 1), r"The file is 41\.9 MB"),
        # Not a state_dict at the top.
        ("a list", lambda: saved([1, 2, 3]), r"holds a list, not a state_dict"),
        ("a bare tensor", lambda: saved(torch.zeros(3)), r"holds a Tensor, not a state_dict"),
        ("a number", lambda: saved(42), r"holds an int, not a state_dict"),
        # Values that are not dense float tensors.
        ("a list value", lambda: saved(state(fc2__bias=[0.0] * 10)), r"'fc2\.bias' is a list"),
        ("an int value", lambda: saved(state(conv1__bias=3)), r"'conv1\.bias' is an int"),
        ("a str value", lambda: saved(state(conv1__bias="zeros")), r"'conv1\.bias' is a str"),
        (
            "a None value",
            lambda: saved({**_base_state(), "conv1.bias": None}),
            r"'conv1\.bias' is a NoneType",
        ),
        (
            "a NumPy value",
            lambda: saved(state(conv1__bias=np.zeros(32, np.float32))),
            r"holds NumPy arrays",
        ),
        (
            "sparse COO",
            lambda: saved(state(conv1__weight=_base_state()["conv1.weight"].to_sparse())),
            r"'conv1\.weight' is a sparse tensor \(sparse_coo\)",
        ),
        (
            "sparse CSR",
            lambda: saved(state(fc1__weight=torch.eye(512, 2048).to_sparse_csr())),
            r"'fc1\.weight' is a sparse tensor \(sparse_csr\)",
        ),
        (
            "sparse CSC",
            lambda: saved(state(fc1__weight=torch.eye(512, 2048).to_sparse_csc())),
            r"sparse tensor \(sparse_csc\)",
        ),
        (
            "sparse BSR",
            lambda: saved(state(fc1__weight=torch.eye(512, 2048).to_sparse_bsr(2))),
            r"sparse tensor \(sparse_bsr\)",
        ),
        (
            "sparse, 10**6 classes",
            lambda: saved(
                state(
                    fc2__weight=torch.sparse_coo_tensor(
                        torch.zeros(2, 1, dtype=torch.long), torch.ones(1), (10**6, 512)
                    )
                )
            ),
            r"'fc2\.weight' is a sparse tensor",
        ),
        (
            "a meta tensor",
            lambda: saved(state(fc1__weight=torch.empty(512, 2048, device="meta"))),
            r"'fc1\.weight' is a 'meta' tensor: it has a shape but no numbers",
        ),
        (
            "quantized",
            lambda: saved(
                state(conv1__bias=torch.quantize_per_tensor(torch.zeros(32), 0.1, 0, torch.qint8))
            ),
            r"quantized tensors",
        ),
        (
            "nested",
            lambda: saved(
                state(conv1__bias=torch.nested.nested_tensor([torch.zeros(16), torch.zeros(16)]))
            ),
            r"nested tensors",
        ),
        # Whole model objects.
        (
            "a whole SimpleCNN",
            lambda: saved(SimpleCNN()),
            r"whole model object \(SimpleCNN\), not a state_dict.*model\.state_dict\(\)",
        ),
        (
            "a whole Sequential",
            lambda: saved(torch.nn.Sequential(torch.nn.Linear(2, 2))),
            r"whole model object \(Sequential\)",
        ),
        (
            "a whole model, plain pickle",
            lambda: pickle.dumps(SimpleCNN()),
            r"whole model object \(SimpleCNN\)",
        ),
        (
            "TorchScript",
            lambda: raw_zip(
                [
                    stored("m/data.pkl", pickle.dumps({})),
                    stored("m/constants.pkl", pickle.dumps(())),
                    stored("m/code/__torch__.py", b"class M: ..."),
                ]
            ),
            r"TorchScript model",
        ),
        # Other formats.
        ("empty", lambda: b"", r"The file is empty"),
        ("a few bytes", lambda: b"\x00\x01", r"only 2 bytes"),
        ("safetensors", safetensors_bytes, r"safetensors file.*load_file"),
        (
            "ONNX",
            lambda: b"\x08\x08\x12\x07pytorch\x1a\x052.5.0:\x8c\x01\n" + os.urandom(200),
            r"ONNX model",
        ),
        ("NumPy .npz", npz_bytes, r"NumPy archive \(\.npz\)"),
        ("NumPy .npy", npy_bytes, r"NumPy array file \(\.npy\)"),
        ("HDF5 (Keras)", lambda: b"\x89HDF\r\n\x1a\n" + bytes(500), r"HDF5 file"),
        ("JSON", lambda: json.dumps({"conv1.weight": [[0.0] * 9] * 3}).encode(), r"JSON file"),
        ("text", lambda: b"These are my weights, trust me.\n", r"a text file"),
        ("PNG", png_bytes, r"PNG image, not a weights file"),
        ("JPEG", jpeg_bytes, r"JPEG image"),
        (
            "a zip of other things",
            lambda: in_zip("readme.txt", b"hello"),
            r"zip archive, but not one written by torch\.save.*'readme\.txt'",
        ),
        ("an empty zip", lambda: raw_zip([]), r"holds nothing"),
        (
            "old-format torch.save",
            lambda: saved(_base_state(), _use_new_zipfile_serialization=False),
            r"old format \(before PyTorch 1\.6\).*torch\.save\(torch\.load",
        ),
        (
            "a plain pickle of tensors",
            lambda: pickle.dumps(dict(_base_state())),
            r"plain Python pickle, not a torch\.save file\. Save the weights",
        ),
        *[
            (
                f"random bytes {seed}",
                lambda seed=seed: np.random.default_rng(seed).bytes(1000 * (seed + 1)),
                r"not a PyTorch weights file",
            )
            for seed in range(5)
        ],
    ]
    return cases


CASES = _cases()
IDS = [name for name, _, _ in CASES]


@pytest.fixture(autouse=True)
def no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a hostile file ran code"


def test_there_are_over_a_hundred_hostile_cases() -> None:
    assert len(CASES) >= 100 and len(set(IDS)) == len(IDS)


@pytest.mark.filterwarnings("ignore")  # torch warns about sparse, nested and TypedStorage
@pytest.mark.parametrize(("name", "make", "message"), CASES, ids=IDS)
def test_hostile_file_is_refused_with_a_sentence(name: str, make, message: str) -> None:
    data = make()
    start = time.process_time()
    with pytest.raises(WeightsError) as refused:
        load_state_dict_bytes(data)
    cpu = time.process_time() - start
    text = str(refused.value)
    assert re.search(message, text, re.DOTALL), f"{name}: {text}"
    assert re.match(r"['A-Z]", text) and text.rstrip().endswith((".", ")")), text  # a sentence
    assert "Traceback" not in text and len(text) < 600, text
    assert cpu < CPU_BUDGET_S, f"{name}: {cpu:.2f} s of CPU"


def test_plain_pickle_would_have_run_the_code() -> None:
    """Control: the code-running pickles above are real — plain pickle runs them."""
    pickle.loads(pickle.dumps(RunsShell()))  # noqa: S301 — the point of the test
    assert MARKER.exists()
    MARKER.unlink()


# The worst cases for memory, each run once in a fresh subprocess. RSS is measured there, not
# with tracemalloc, because torch allocates in C++ where tracemalloc sees nothing; Linux's
# peak-RSS counter (VmHWM) is reset before each case by writing 5 to /proc/self/clear_refs, so
# each figure is that case's own peak above the memory in use before it. RSS counts only pages
# really touched — which is what an inflated bomb or a materialised stride-0 tensor does.
WORST = [
    "zip bomb: a 1.5 GiB deflated record",
    "zip bomb: headers that lie",
    "an index declaring a 1.5 GiB storage",
    "stride-0: 1,000,000 classes",
    "stride-0: 100,000 classes",
    "stride-0 junk beside the weights",
    "sparse, 10**6 classes",
    "20,000 empty records",
    "a 2 MB index",
    "an oversize file",
]

_MEASURE = """
import re, sys, time
from tests.test_hostile_weights import CASES, _base_state, saved
from explorer.weights_file import load_state_dict_bytes
def kb(field):
    return int(re.search(field + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))
makers = {name: make for name, make, _ in CASES}
load_state_dict_bytes(saved(_base_state()))  # torch's one-time set-up is not a case's cost
for name in sys.argv[1:]:
    data = makers[name]()
    before = kb("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    cpu = time.process_time()
    try:
        load_state_dict_bytes(data)
        outcome = "LOADED"
    except Exception as exc:
        outcome = type(exc).__name__
    cpu = time.process_time() - cpu
    print(f"{(kb('VmHWM') - before) / 1024:.1f}\\t{cpu:.3f}\\t{outcome}\\t{name}")
    del data
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_worst_cases_stay_under_512_mb_measured_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *WORST],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [r[3] for r in rows] == WORST
    for peak_mb, cpu_s, outcome, name in rows:
        assert outcome == "WeightsError", f"{name}: {outcome}"
        assert float(peak_mb) < MEMORY_BUDGET_MB, f"{name}: {peak_mb} MB above the start"
        assert float(cpu_s) < CPU_BUDGET_S, f"{name}: {cpu_s} s of CPU"


# ------------------------------------------------------------- what must still load


GOOD: list[tuple[str, Callable[[], bytes], int]] = [  # (name, file, classes)
    ("our own format", lambda: saved(_base_state()), 10),
    ("float16", lambda: saved({k: v.half() for k, v in _base_state().items()}), 10),
    ("bfloat16", lambda: saved({k: v.bfloat16() for k, v in _base_state().items()}), 10),
    ("float64", lambda: saved({k: v.double() for k, v in _base_state().items()}), 10),
    ("Parameters", lambda: saved({k: torch.nn.Parameter(v) for k, v in _base_state().items()}), 10),
    ("a checkpoint wrapper", lambda: saved({"state_dict": _base_state(), "epoch": 3}), 10),
    (
        "a tutorial checkpoint",
        lambda: saved(
            {"model_state_dict": _base_state(), "epoch": 3, "optimizer_state_dict": {"state": {}}}
        ),
        10,
    ),
    (
        "DataParallel prefixes",
        lambda: saved({f"module.{k}": v for k, v in _base_state().items()}),
        10,
    ),
    (
        "a stride-0 bias of the right shape",
        lambda: saved(state(conv1__bias=torch.zeros(1).expand(32))),
        10,
    ),
    ("2 classes", lambda: saved(SimpleCNN(2).state_dict()), 2),
    (f"{MAX_CLASSES} classes", lambda: saved(SimpleCNN(MAX_CLASSES).state_dict()), MAX_CLASSES),
    ("deflated records", lambda: _deflated(saved(_base_state())), 10),
    ("the crafted writer's own valid file", lambda: torch_zip(*crafted_state()), 10),
]


EXACT = {
    "our own format",
    "float64",
    "Parameters",
    "a checkpoint wrapper",
    "a tutorial checkpoint",
    "DataParallel prefixes",
    "deflated records",
    "the crafted writer's own valid file",
}


def _deflated(data: bytes) -> bytes:
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize(("name", "make", "classes"), GOOD, ids=[g[0] for g in GOOD])
def test_files_students_really_make_still_load(name: str, make, classes: int) -> None:
    clean, num_classes = load_state_dict_bytes(make())
    assert num_classes == classes
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in clean.values())
    model = build_model(clean, num_classes)
    assert model.fc2.out_features == classes
    if name in EXACT:  # the same numbers as the state they were saved from
        for k, v in model.state_dict().items():
            assert torch.equal(v, _base_state()[k]), k
