"""The ``.npz`` archive of a checkpoint, written in one piece.

``np.load`` reads it like any ``np.savez`` archive: an uncompressed zip of one
``<name>.npy`` entry per array.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

_ZIP_LIMIT = 2**32 - 1  # bytes: offsets and sizes past it need zip64


def write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    """The ``.npz`` archive ``np.savez`` writes (an uncompressed zip of ``<name>.npy``), built
    in memory and written in one call.

    Put together here, not by ``np.savez``: its ``zipfile`` entries cost 15 µs apiece
    (zip64 headers, seeks back to each entry's header), two thirds of writing a small
    network's checkpoint. An archive past the plain zip's limits (4 GiB, 65535 entries)
    is left to ``np.savez``.
    """
    entries = []  # (name, .npy header, array, whether its bytes go in Fortran order)
    for key, array in arrays.items():
        buffer, info = io.BytesIO(), np.lib.format.header_data_from_array_1_0(array)
        np.lib.format.write_array_header_1_0(buffer, info)
        name = (key + ".npy").encode("utf-8")
        entries.append((name, buffer.getvalue(), array, info["fortran_order"]))
    # an entry takes a 30-byte local header and a 46-byte central one besides its name and
    # data; the limits are checked before any array's bytes are copied
    if (
        len(entries) >= 0xFFFF
        or sum(len(n) + len(h) + a.nbytes + 76 for n, h, a, _ in entries) >= _ZIP_LIMIT
    ):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as allow_pickle
        f.write(buffer.getbuffer())
        return
    parts, central, offset = [], [], 0
    for name, npy_header, array, fortran in entries:
        data = npy_header + array.tobytes("F" if fortran else "C")
        flags = 0 if name.isascii() else 0x800  # bit 11: the name is UTF-8
        # version 2.0, stored, 1980-01-01 00:00, CRC-32, sizes, name length, no extra field
        fields = (20, flags, 0, 0, 0x21, zlib.crc32(data), len(data), len(data), len(name))
        parts += [struct.pack("<I5HIIIHH", 0x04034B50, *fields, 0), name, data]
        central += [
            struct.pack(
                "<IH5HIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0o644 << 16, offset
            ),
            name,
        ]
        offset += 30 + len(name) + len(data)
    directory = b"".join(central)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0
    )
    f.write(b"".join(parts) + directory + end)
