"""Writes tests/data/official.safetensors with the official safetensors library.

Run once (needs `pip install safetensors numpy`; written with safetensors 0.8.0):
    python3 tests/data/make_safetensors_fixture.py
tests/test_io.c reads the committed file (no Python in CI): it checks every name, dtype, shape
and byte, and that bnbq's writer produces the same file byte for byte from the same tensors.

Every tensor's bytes are (seed + 13 * k) % 256 for byte k, seed from the table below (the C test
holds the same table). One metadata key only: the official writer keeps a hash map's order for
__metadata__, so with two or more keys its byte order is not reproducible.
"""
import ctypes
import os

from safetensors import TensorSpec, serialize

# name, torch-style dtype name, shape, bytes per element (0.5 for F4), seed
TENSORS = [
    ("a.weight", "float32", (2, 3), 4, 1),
    ("b", "float16", (4,), 2, 2),
    ("c.bf16", "bfloat16", (2, 2), 2, 3),
    ("d", "uint8", (5,), 1, 4),
    ("e", "int8", (3,), 1, 5),
    ("f", "int64", (), 8, 6),
    ("g", "bool", (2,), 1, 7),
    ("h", "float64", (2,), 8, 8),
    ("i", "int32", (2, 1), 4, 9),
    ("j", "uint16", (1,), 2, 10),
    ("empty", "float32", (0, 4), 4, 11),
    ("\u00fc\"\\\n\b\x01/x", "uint8", (1,), 1, 12),
    ("k.f8", "float8_e4m3fn", (2,), 1, 13),
    ("l", "uint64", (1,), 8, 14),
    ("m", "int16", (3,), 2, 15),
    ("n", "uint32", (1,), 4, 16),
    ("o", "complex64", (1,), 8, 17),
    ("p", "float8_e5m2", (3,), 1, 18),
]


def main():
    keep = []
    specs = {}
    for name, dt, shape, size, seed in TENSORS:
        numel = 1
        for s in shape:
            numel *= s
        nbytes = int(numel * size)
        data = bytes((seed + 13 * k) % 256 for k in range(nbytes))
        buf = ctypes.create_string_buffer(data, max(nbytes, 1))
        keep.append(buf)
        specs[name] = TensorSpec(dtype=dt, shape=shape, data_ptr=ctypes.addressof(buf),
                                 data_len=nbytes)
    out = bytes(serialize(specs, {"format": "pt"}))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "official.safetensors")
    with open(path, "wb") as f:
        f.write(out)
    print(path, len(out), "bytes")


if __name__ == "__main__":
    main()
