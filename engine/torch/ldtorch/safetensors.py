"""The safetensors format, F32 only, byte-compatible with engine/src/safetensors.ts (header padded
to 8 bytes with spaces). Our own few lines, so that torch is the only dependency."""
import json
import struct
import sys

import torch

if sys.byteorder != "little":
    raise ImportError("ldtorch writes little-endian safetensors and runs on little-endian machines only")

try:  # faster tensor → bytes when numpy is there (it is optional for torch >= 2)
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None


class SafetensorsError(Exception):
    pass


def _to_bytes(t):
    t = t.detach().to("cpu", torch.float32).contiguous().reshape(-1)
    if _np is not None:
        return t.numpy().tobytes()
    import array
    return array.array("f", t.tolist()).tobytes()


def encode(tensors, metadata=None):
    """tensors: ordered (name, tensor) pairs or a dict; returns the file's bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    items = tensors.items() if hasattr(tensors, "items") else tensors
    for name, t in items:
        b = _to_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return b"".join([struct.pack("<Q", len(h)), h] + blobs)


def decode(data, what="safetensors data"):
    """Returns ({name: float32 tensor}, metadata); every structural problem names `what`."""
    def fail(msg):
        raise SafetensorsError(f"{what}: {msg}")

    if len(data) < 8:
        fail(f"too short to be a safetensors file ({len(data)} bytes)")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        fail(f"header length {n} runs past the end of the file ({len(data)} bytes); the file is truncated or not safetensors")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        fail(f"header is not valid JSON ({e})")
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    start, out, meta = 8 + n, {}, {}
    for name, m in header.items():
        if name == "__metadata__":
            meta = dict(m)
            continue
        if not isinstance(m, dict) or m.get("dtype") != "F32":
            fail(f"tensor {name!r}: only F32 is supported")
        shape, (s, e) = m["shape"], m["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if e - s != 4 * count:
            fail(f"tensor {name!r}: data_offsets [{s}, {e}] do not fit shape {shape}")
        if start + e > len(data):
            fail(f"tensor {name!r} ends past the end of the file; the file is truncated")
        buf = bytearray(data[start + s:start + e])
        t = torch.frombuffer(buf, dtype=torch.float32) if count else torch.zeros(0)
        out[name] = t.reshape(shape)
    return out, meta


def load(path):
    with open(path, "rb") as f:
        return decode(f.read(), path)
