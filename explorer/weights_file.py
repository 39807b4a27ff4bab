"""Reading a SimpleCNN ``state_dict`` from a file: safely, cheaply, and with a sentence a
student can act on when the file is not one.

What every load here guarantees, whoever made the file:

- **Nothing in the file runs.** The only unpickler is ``torch.load(..., weights_only=True)``,
  which rebuilds tensors and plain containers and refuses everything else; a file that would
  import or run code is refused, not run. When a message needs to say what a pickle refers
  to, it is read with ``pickletools.genops``, which parses opcodes and imports nothing.
- **Sizes are checked before anything is allocated.** The file itself (``MAX_WEIGHTS_BYTES``),
  its zip directory (``MAX_ZIP_DIRECTORY_BYTES``), every record's uncompressed size, the
  pickled index (``MAX_INDEX_BYTES``), and then the bytes every tensor *declares* (storage,
  and shape × element size) — read from a ``map_location="meta"`` load that allocates no
  numbers — all come before the real load. A small file that claims huge tensors costs
  almost nothing.
- **Only a SimpleCNN state_dict comes back**: the expected keys and shapes, dense floating
  point tensors (copied to float32 on the CPU), at most ``MAX_CLASSES`` classes, finite values
  below ``MAX_ABS_WEIGHT``, and scores that stay finite on typical inputs.
- **Every refusal is a** ``WeightsError`` naming what the file is (safetensors, ONNX, NumPy, an
  image, a whole pickled model, TorchScript, torch's pre-1.6 format…) and what to do instead.

``load_state_dict_bytes`` is the entry point (its docstring gives the order of the checks);
``load_weights_file`` and ``load_choice`` use it for the files the app ships.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import math
import pickletools
import re
import struct
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import cast

import torch
from torch import nn

from explorer.model import (
    MAX_CLASSES,
    OVERFLOW_MESSAGE,
    SimpleCNN,
    WeightsChoice,
    WeightsError,
    build_model,
    expected_shapes,
    meta_model,
)

# Largest weights file we accept from a user: ours is ~4.6 MB (float32); in float64 it is
# ~9.2 MB. Anything much larger is not a SimpleCNN state_dict. The same bound holds for what the
# file *unpacks* to — every zip record's uncompressed size, every tensor's storage and declared
# shape × element size — and it is checked before anything is allocated, because a small file
# can declare a huge tensor (a record that inflates a thousandfold, a stride-0 "expanded" view).
MAX_WEIGHTS_BYTES = 40 * 1024 * 1024
# torch.save's pickled index (data.pkl: keys, shapes, dtypes) is about 1 KB for SimpleCNN.
# Unpickling runs in Python, so a huge index would cost seconds before any tensor is seen.
MAX_INDEX_BYTES = 1024 * 1024
# A torch.save zip lists ~16 records in ~1.2 KB of directory; Python's zipfile makes an object
# per record, so a 40 MB directory of tiny records would cost hundreds of MB to read.
MAX_ZIP_DIRECTORY_BYTES = 256 * 1024
# Weights this large in magnitude make every activation overflow; no trained network has them.
MAX_ABS_WEIGHT = 1e6


# What goes wrong with an uploaded file is described in words a student can act on. Each helper
# below returns or raises one such sentence; the order of the checks in load_state_dict_bytes is
# what keeps a hostile file cheap.

_HOW_TO_SAVE = "Save the weights with torch.save(model.state_dict(), 'weights.pt')."
_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# torch.save's pre-1.6 format begins with a pickled magic number (a 10-byte little-endian long).
_LEGACY_TORCH_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _our_size() -> int:
    return 4 * sum(math.prod(shape) for shape in expected_shapes().values())


def _describe_non_zip(data: bytes) -> str:
    """A sentence naming what a file that is not a zip archive (torch.save's format) is."""
    head = data[:64]
    if head.startswith(b"PK") or b"PK\x03\x04".startswith(head[:4]):
        return _CUT.format("it starts like a zip archive, but its first record is broken")
    if _LEGACY_TORCH_MAGIC in head[:16]:
        return (
            "This file uses torch.save's old format (before PyTorch 1.6), whose sizes cannot be "
            "checked before loading, so the app does not read it. Save it again with a current "
            "PyTorch: torch.save(torch.load('old.pt', weights_only=True), 'new.pt')."
        )
    header_len = int.from_bytes(data[:8], "little") if len(data) >= 10 else 0
    if 2 <= header_len <= len(data) - 8 and data[8:9] == b"{":
        return (
            "This is a safetensors file. The app reads state_dicts saved with torch.save; convert "
            "it with: from safetensors.torch import load_file; "
            "torch.save(load_file('model.safetensors'), 'weights.pt')."
        )
    if head.startswith(b"\x93NUMPY"):
        return f"This is a NumPy array file (.npy), not a PyTorch weights file. {_HOW_TO_SAVE}"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return (
            "This is an HDF5 file (the format Keras uses for .h5 models), not a PyTorch weights "
            f"file. {_HOW_TO_SAVE}"
        )
    picture = _picture_format(head)
    if picture:
        return (
            f"This is a {picture} image, not a weights file: images go in the Feature maps "
            "page's Upload input."
        )
    if _looks_like_onnx(head):
        return (
            "This looks like an ONNX model (an exported graph), not a PyTorch state_dict. "
            + _HOW_TO_SAVE
        )
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return _describe_pickle(data, "This is a plain Python pickle, not a torch.save file.")
    if _is_text(data[:4096]):
        what = "JSON" if data.lstrip()[:1] in (b"{", b"[") else "text"
        return f"This is a {what} file, not a PyTorch weights file. {_HOW_TO_SAVE}"
    if len(data) < 100:  # the smallest torch.save file, of an empty dict, is ~1 KB
        return (
            f"The file holds only {len(data)} bytes, far too few for weights (a SimpleCNN "
            f"state_dict is about {_mb(_our_size())})."
        )
    return (
        "This is not a PyTorch weights file: torch.save writes a zip archive (starting with "
        f"'PK'), and this file starts with {data[:4]!r}. {_HOW_TO_SAVE}"
    )


def _picture_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto (protobuf) starts with field 1, ``ir_version`` (a small varint: 3…12),
    followed by another field's tag (producer_name, graph, opset_import…)."""
    return (
        len(head) >= 3
        and head[0] == 0x08
        and 3 <= head[1] <= 12
        and head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42)
    )


def _is_text(chunk: bytes) -> bool:
    try:  # incremental: a character cut at the end of the chunk is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(chunk)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def _pickle_names(pkl: bytes) -> tuple[list[str], set[str]]:
    """The globals (``module.name``) a pickle imports and the strings it holds, read with
    ``pickletools.genops`` — which only parses opcodes and never executes or imports anything.
    At most 200,000 opcodes are read, so a huge pickle stays cheap."""
    globals_: list[str] = []
    strings: set[str] = set()
    recent: list[str] = []
    try:
        for count, (op, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(pkl))):
            if count > 200_000:
                break
            if op.name == "GLOBAL" and isinstance(arg, str):
                module, _, name = arg.partition(" ")
                # Protocol 2 writes Python 2 names (builtins → __builtin__): map them back.
                module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
                globals_.append(f"{module}.{name}")
            elif op.name == "STACK_GLOBAL" and len(recent) >= 2:
                globals_.append(f"{recent[-2]}.{recent[-1]}")
            elif isinstance(arg, str):
                strings.add(arg)
                recent = [*recent[-1:], arg]
    except Exception:  # noqa: BLE001 — a damaged pickle: what was read so far is enough
        pass
    return globals_, strings


def _foreign(globals_: list[str]) -> list[str]:
    """The globals a weights file has no reason to import: anything but torch's own."""
    return [g for g in globals_ if not g.startswith(("torch.", "collections.OrderedDict"))]


_MODULE_ATTRIBUTES = frozenset({"_modules", "_parameters", "_buffers"})


def _is_module_pickle(globals_: list[str], strings: set[str]) -> bool:
    """A pickled nn.Module: its layers' classes come from torch.nn.modules, or its state holds
    the attributes every Module has."""
    in_torch = any(g.startswith("torch.nn.modules.") for g in globals_)
    return in_torch or strings >= _MODULE_ATTRIBUTES


def _describe_pickle(pkl: bytes, opening: str) -> str:
    globals_, strings = _pickle_names(pkl)
    if _is_module_pickle(globals_, strings):
        return _whole_model_message(globals_)
    code = _foreign(globals_)
    if code:
        return (
            f"{opening} It would import and run Python code ({code[0]}) when opened; it was "
            f"not opened. {_HOW_TO_SAVE}"
        )
    return f"{opening} {_HOW_TO_SAVE}"


def _whole_model_message(globals_: list[str]) -> str:
    own = [g for g in globals_ if not g.startswith(("torch.", "collections.", "builtins."))]
    layers = [g for g in globals_ if g.startswith("torch.nn.modules.")]
    name = (own + layers)[0].rsplit(".", 1)[-1] if own + layers else "an nn.Module"
    return (
        f"The file holds a whole model object ({name}), not a state_dict. Loading a model "
        "object means running its code, which the app never does. Save the weights alone: "
        "torch.save(model.state_dict(), 'weights.pt')."
    )


def _zip_directory_size(data: bytes) -> int | None:
    """The size of the zip's central directory as its end records declare it (the largest, when
    a ZIP64 record is present, because Python's zipfile and torch's reader look for that record
    in different places), or None when there is no end record: a file cut short."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65_535))
    if end < 0 or end + 22 > len(data):
        return None
    sizes = [int.from_bytes(data[end + 12 : end + 16], "little")]
    locator = end - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        pointed = int.from_bytes(data[locator + 8 : locator + 16], "little")
        for start in (locator - 56, pointed):
            record = data[start : start + 56] if start >= 0 else b""
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                sizes.append(int.from_bytes(record[40:48], "little"))
    return max(sizes)


_CUT = "The file is cut short or damaged ({}); upload it again, or save it again with torch.save."


def _check_zip(data: bytes) -> None:
    """Refuse a zip archive that is not a torch.save file, whose directory or records would
    unpack to more than the budget, or whose records are damaged. The directory's declared size
    is read first (zipfile builds an object per record it lists), then the records' declared
    sizes, and only then their bytes (:func:`_record_problem`)."""
    directory = _zip_directory_size(data)
    if directory is None:
        raise WeightsError(_CUT.format("the zip archive's end record is missing"))
    if directory > MAX_ZIP_DIRECTORY_BYTES:
        raise WeightsError(
            f"The zip archive's directory is {_mb(directory)}; a torch.save file lists about "
            "16 records in about 1 KB. This is not a SimpleCNN state_dict."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:  # noqa: BLE001 — BadZipFile, ValueError, struct.error…
        raise WeightsError(_CUT.format(f"its zip directory is broken: {exc}")) from exc
    names = [info.filename for info in infos]
    shown = ", ".join(f"'{n}'" for n in names[:3]) + (" …" if len(names) > 3 else "")
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        raise WeightsError(
            "This is a TorchScript model (saved with torch.jit.save): a compiled program, not a "
            f"state_dict. {_HOW_TO_SAVE}"
        )
    if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        if names and all(n.endswith(".npy") for n in names):
            raise WeightsError(
                f"This is a NumPy archive (.npz), not a PyTorch weights file. {_HOW_TO_SAVE}"
            )
        raise WeightsError(
            "This is a zip archive, but not one written by torch.save (it has no data.pkl; it "
            f"holds {shown or 'nothing'}). {_HOW_TO_SAVE}"
        )
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WeightsError(
                f"Record '{info.filename}' is compressed with a method torch.load cannot read "
                f"(zip method {info.compress_type}). {_HOW_TO_SAVE}"
            )
        if info.filename.endswith("data.pkl") and info.file_size > MAX_INDEX_BYTES:
            raise WeightsError(
                f"The file's index (data.pkl) is {_mb(info.file_size)}; a state_dict's is about "
                "1 KB, so this is not a SimpleCNN state_dict."
            )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_WEIGHTS_BYTES:
        largest = max(infos, key=lambda info: info.file_size)
        raise WeightsError(
            f"The file would unpack to {_mb(unpacked)} (record '{largest.filename}' alone to "
            f"{_mb(largest.file_size)}); a SimpleCNN state_dict is about {_mb(_our_size())}, "
            f"and the app reads at most {_mb(MAX_WEIGHTS_BYTES)}."
        )
    for info in infos:
        problem = _record_problem(data, info)
        if problem:
            raise WeightsError(_CUT.format(f"record '{info.filename}' {problem}"))


def _record_problem(data: bytes, info: zipfile.ZipInfo) -> str | None:
    """What is wrong with one record's bytes, or None: a deflated record must inflate to exactly
    the size its header declares (inflating stops one byte past it, so a record that lies costs
    no more than an honest one), and every record must match its CRC."""
    start = info.header_offset
    header = data[start : start + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04" or info.flag_bits & 0x1:
        return "cannot be read (a broken or encrypted header)"
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_length + extra_length
    body = data[begin : begin + info.compress_size]
    if len(body) < info.compress_size:
        return "is cut short"
    if info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, info.file_size + 1)
        except zlib.error:
            return "cannot be unpacked"
        if len(body) != info.file_size or not inflater.eof:
            return "does not unpack to the size its header declares"
    if zlib.crc32(body) != info.CRC:
        return "does not match its checksum"
    return None


def _torch_load(data: bytes, location: str) -> object:
    """``torch.load`` with ``weights_only=True``; a failure becomes a WeightsError that says
    what the file holds. ``location="meta"`` reads the index alone: every tensor gets its
    shape, dtype and layout but no numbers, and nothing is allocated for it."""
    try:
        return torch.load(io.BytesIO(data), map_location=location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 — any failure here is the file's fault
        raise WeightsError(_describe_load_failure(data, exc)) from exc


def _index_bytes(data: bytes) -> bytes:
    """The pickled index (data.pkl) of a zip that :func:`_check_zip` accepted, or b""."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            index = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            return archive.read(index)
    except Exception:  # noqa: BLE001 — only used to word a message
        return b""


def _describe_load_failure(data: bytes, exc: Exception) -> str:
    """A sentence for a failed ``torch.load``: what the index refers to (read again with
    :func:`_pickle_names`, which runs nothing), or torch's own reason, shortened."""
    text = str(exc)
    if "Weights only load failed" in text or "Unsupported global" in text:
        globals_, strings = _pickle_names(_index_bytes(data))
        if _is_module_pickle(globals_, strings):
            return _whole_model_message(globals_)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        code = _foreign(globals_) or ([found.group(1)] if found else [])
        if code and code[0].startswith("numpy."):
            return (
                f"The file holds NumPy arrays ({code[0]}), which the app does not unpickle. "
                f"Convert them with torch.from_numpy first. {_HOW_TO_SAVE}"
            )
        if code:
            return (
                f"The file refers to Python code ({code[0]}) that would run while it is opened; "
                f"it was refused, and nothing in it ran. {_HOW_TO_SAVE}"
            )
        reason = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
        text = reason.group(1) if reason else text
    if "Quantized" in text or "quantized" in text:
        return f"The file holds quantized tensors (integers with a scale); {_FLOATS_PLEASE}"
    if "nested" in text.lower():
        return (
            f"The file holds nested tensors (lists of tensors of different sizes); {_FLOATS_PLEASE}"
        )
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    first = first.strip()[:200].rstrip(".")
    return f"The file could not be read as PyTorch weights (it may be damaged): {first}."


_FLOATS_PLEASE = (
    "SimpleCNN's weights are ordinary dense tensors of floating-point numbers (float32, "
    "float64, float16 or bfloat16)."
)


def _unwrap(state: object) -> object:
    """The state_dict inside a loaded object: the object itself, or the ``"state_dict"`` /
    ``"model_state_dict"`` entry of a training checkpoint, with DataParallel's ``module.``
    prefixes removed from the keys."""
    if isinstance(state, dict):
        for wrapper in ("state_dict", "model_state_dict"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if (
        isinstance(state, dict)
        and state
        and all(isinstance(k, str) and k.startswith("module.") for k in state)
    ):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _tensor_problem(key: str, value: object) -> str | None:
    """Why ``value`` is not an ordinary dense tensor of floats, or None. Reads only metadata
    (type, layout, dtype, device), so it is safe on any tensor, however large it claims to be."""
    if not isinstance(value, torch.Tensor):
        return f"'{key}' is {_a(type(value).__name__)}, not a tensor."
    if type(value) not in (torch.Tensor, nn.Parameter):
        return f"'{key}' is {_a(type(value).__name__)}, a tensor subclass; {_FLOATS_PLEASE}"
    if value.is_nested:
        return f"'{key}' is a nested tensor; {_FLOATS_PLEASE}"
    if value.layout != torch.strided:
        layout = str(value.layout).removeprefix("torch.")
        return f"'{key}' is a sparse tensor ({layout}); {_FLOATS_PLEASE}"
    if value.is_quantized:
        return f"'{key}' is a quantized tensor ({value.dtype}); {_FLOATS_PLEASE}"
    if value.dtype not in _FLOAT_DTYPES:
        if value.is_complex():
            kind = "complex numbers"
        elif value.dtype == torch.bool:
            kind = "true/false values"
        elif not value.dtype.is_floating_point:
            kind = "integers"
        else:
            kind = "a floating-point format the app does not read"
        return f"'{key}' holds {value.dtype} values ({kind}); {_FLOATS_PLEASE}"
    return None


def _check_structure(state: object, on_meta: bool = False) -> int:
    """Check keys, tensor kinds and shapes of a state_dict (after :func:`_unwrap`) using only
    metadata, and return its number of classes. ``on_meta``: the tensors come from a
    ``map_location="meta"`` load, so being on the meta device is expected of them."""
    if not isinstance(state, dict):
        raise WeightsError(
            f"The file holds {_a(type(state).__name__)}, not a state_dict (a dictionary of "
            f"tensors). {_HOW_TO_SAVE}"
        )
    odd = next((k for k in state if not isinstance(k, str)), None)
    if odd is not None:
        raise WeightsError(
            f"The dictionary has a key {odd!r} ({type(odd).__name__}); a state_dict's keys are "
            "names like 'conv1.weight'."
        )
    num_classes = 10
    fc2 = state.get("fc2.weight")
    readable = fc2 is not None and _tensor_problem("fc2.weight", fc2) is None
    shape = tuple(fc2.shape) if readable and fc2 is not None else ()
    if len(shape) == 2 and shape[0] >= 1:
        num_classes = int(shape[0])
    if num_classes > MAX_CLASSES:
        raise WeightsError(
            f"'fc2.weight' has {num_classes:,} rows, one per class; the app shows at most "
            f"{MAX_CLASSES:,} classes (ImageNet has 1,000)."
        )
    expected = expected_shapes(num_classes)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if len(missing) == len(expected):
        shown = ", ".join(f"'{k}'" for k in list(state)[:4]) + (" …" if len(state) > 4 else "")
        raise WeightsError(
            f"Key '{missing[0]}' is missing, and so is every other SimpleCNN key (the dictionary "
            f"holds {shown or 'nothing'}): this is not a SimpleCNN state_dict."
        )
    if missing:
        raise WeightsError(
            f"Key '{missing[0]}' is missing ({len(missing)} missing in all): this is not a "
            f"SimpleCNN state_dict. Expected keys: {', '.join(expected)}."
        )
    if unexpected:
        raise WeightsError(
            f"Unexpected key '{unexpected[0]}' ({len(unexpected)} unexpected in all): this is "
            "not a SimpleCNN state_dict, or it comes from a different architecture."
        )
    for key, shape in expected.items():
        value = state[key]
        problem = _tensor_problem(key, value)
        if problem:
            raise WeightsError(problem)
        if value.device.type == "meta" and not on_meta:
            raise WeightsError(
                f"'{key}' is a 'meta' tensor: it has a shape but no numbers (it was saved "
                f"without its data). {_HOW_TO_SAVE}"
            )
        if tuple(value.shape) != shape:
            raise WeightsError(
                f"'{key}' has shape {tuple(value.shape)}, but SimpleCNN expects {shape}."
            )
    return num_classes


def _check_declared_bytes(loaded: object) -> None:
    """Refuse a file whose tensors, anywhere in it, declare more than MAX_WEIGHTS_BYTES: their
    storages (what torch.load allocates) and their shapes × element sizes (what copying them
    would allocate — a stride-0 "expanded" tensor declares far more than it stores). Walks
    the loaded containers without recursion, visiting at most 100,000 objects."""
    storages: dict[int, int] = {}
    declared = 0
    pending, visited = [loaded], 0
    while pending:
        obj = pending.pop()
        visited += 1
        if visited > 100_000:
            raise WeightsError("The file holds over 100,000 objects; this is not a state_dict.")
        if isinstance(obj, torch.Tensor):
            declared += obj.numel() * obj.element_size()
            if obj.layout == torch.strided and not obj.is_nested:
                storage = obj.untyped_storage()
                storages[storage._cdata] = storage.nbytes()
        elif isinstance(obj, dict):
            pending.extend(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            pending.extend(obj)
    stored = sum(storages.values())
    if max(stored, declared) > MAX_WEIGHTS_BYTES:
        raise WeightsError(
            f"The file's tensors declare {_mb(max(stored, declared))} of numbers; a SimpleCNN "
            f"state_dict holds about {_mb(_our_size())}, and the app reads at most "
            f"{_mb(MAX_WEIGHTS_BYTES)}."
        )


def validate_state_dict(state: object) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Check a loaded object is a SimpleCNN ``state_dict``; return it as float32 and its classes.

    Raises :class:`WeightsError` naming the first problem: not a dict, a missing or unexpected
    key, a tensor that is not dense floats (sparse, quantized, complex, meta, a subclass…), a
    wrong shape (expected vs found), more than MAX_CLASSES classes, NaN/inf or absurd values,
    or weights that make the scores overflow. Every check that reads only metadata comes before
    any copy, so a tensor that merely *claims* to be huge is refused for free. The number of
    classes is read from ``fc2.weight`` so a 10-class or, say, 2-class head both load. The
    returned tensors are fresh copies (float32, contiguous, on the CPU).
    """
    state = cast("dict[str, torch.Tensor]", _unwrap(state))  # checked just below
    num_classes = _check_structure(state)
    clean: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key in expected_shapes(num_classes):
        value = state[key].detach().to("cpu", torch.float32, copy=True).contiguous()
        if not torch.isfinite(value).all():
            raise WeightsError(f"'{key}' contains NaN or infinite values.")
        largest = value.abs().max().item()
        if largest > MAX_ABS_WEIGHT:
            raise WeightsError(
                f"'{key}' has values up to {largest:.3g}, far beyond any trained network; the "
                "file is probably corrupt."
            )
        clean[key] = value
    _check_scores_finite(clean, num_classes)
    return clean, num_classes


def _check_scores_finite(state: OrderedDict[str, torch.Tensor], num_classes: int) -> None:
    """Run four typical inputs (all 0, all ±2.5 — the range of normalised pixels — and seeded
    noise) through the weights and refuse them if any score is NaN or infinite."""
    model = meta_model(num_classes)
    model.load_state_dict(state, assign=True)  # a throwaway model that borrows the tensors
    noise = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0)) * 5 - 2.5
    flat = torch.ones(3, 32, 32)
    probe = torch.stack([0 * flat, 2.5 * flat, -2.5 * flat, noise])  # 4×3×32×32
    with torch.no_grad():
        scores = model.eval()(probe)  # 4×classes
    if not torch.isfinite(scores).all():
        raise WeightsError(OVERFLOW_MESSAGE)


def load_state_dict_bytes(data: bytes) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Read an uploaded ``.pt``/``.pth`` file safely and validate it; return the state_dict
    (float32 tensors) and its number of classes, or raise :class:`WeightsError` with a
    sentence that says what the file is and what is wrong with it.

    The checks come in the order that keeps a hostile file cheap — nothing is allocated for a
    tensor before its declared size is known to fit the budget:

    1. the file's size (MAX_WEIGHTS_BYTES); a file that is not a zip archive (safetensors,
       ONNX, NumPy, an image, text, torch's pre-1.6 format, a plain pickle) is named;
    2. the zip's directory and records (:func:`_check_zip`): a torch.save archive, each
       record's uncompressed size within the budget, CRCs intact;
    3. the index alone, ``torch.load(map_location="meta")``: keys, shapes, dtypes, layouts,
       the number of classes, and the bytes every tensor in the file declares;
    4. the real load, then the numbers (:func:`validate_state_dict`).

    ``weights_only=True`` in both loads only rebuilds tensors and plain containers: a file
    crafted to run code when unpickled is refused, not run.
    """
    data = bytes(data)
    if len(data) == 0:
        raise WeightsError("The file is empty.")
    if len(data) > MAX_WEIGHTS_BYTES:
        raise WeightsError(
            f"The file is {_mb(len(data))}; a SimpleCNN state_dict (float32, 10 classes) is "
            f"about {_mb(_our_size())}, and the app reads at most {_mb(MAX_WEIGHTS_BYTES)}."
        )
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first record, or an empty zip
        raise WeightsError(_describe_non_zip(data))
    _check_zip(data)
    index = _torch_load(data, "meta")
    _check_structure(_unwrap(index), on_meta=True)
    _check_declared_bytes(index)
    return validate_state_dict(_torch_load(data, "cpu"))


def load_weights_file(path: Path) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Load and validate one of our shipped weights files."""
    return load_state_dict_bytes(Path(path).read_bytes())


def load_choice(choice: WeightsChoice) -> SimpleCNN:
    """The model for a built-in weights choice, in eval mode on the CPU."""
    if choice.path is None:
        return build_model(None, len(choice.classes))
    state, num_classes = load_weights_file(choice.path)
    return build_model(state, num_classes)


__all__ = [
    "MAX_ABS_WEIGHT",
    "MAX_INDEX_BYTES",
    "MAX_WEIGHTS_BYTES",
    "MAX_ZIP_DIRECTORY_BYTES",
    "load_choice",
    "load_state_dict_bytes",
    "load_weights_file",
    "validate_state_dict",
]
