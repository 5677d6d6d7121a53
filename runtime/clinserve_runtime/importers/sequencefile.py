"""A reader for Hadoop SequenceFiles, enough for Spark's ``saveAsObjectFile`` output.

No maintained pure-Python SequenceFile reader exists on PyPI (``hadoopy`` and ``pydoop`` need a
Hadoop installation and are unmaintained; ``sparkpickle`` reads only pickled values), so this
module implements the documented format (Hadoop ``org.apache.hadoop.io.SequenceFile``, version 6):

header:  ``SEQ`` + version byte, key class and value class (``Text``: vint length + UTF-8),
         compressed flag, block-compressed flag, codec class (only when compressed),
         metadata (int count + ``Text`` pairs), 16 sync bytes;
records: int record length (``-1`` escapes a sync marker: 16 bytes follow), int key length,
         key bytes, value bytes.

Values are returned raw; a ``BytesWritable`` value (int length + bytes) is unwrapped by
:func:`bytes_writable`. Compressed files are refused with a message: Spark NLP writes them
uncompressed unless the Hadoop configuration says otherwise.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SYNC_SIZE = 16
SYNC_ESCAPE = -1
SUPPORTED_VERSIONS = frozenset({6})


class SequenceFileError(ValueError):
    """The file is not a SequenceFile this reader can read."""


@dataclass(frozen=True)
class SequenceFileHeader:
    """The header fields of a SequenceFile."""

    version: int
    key_class: str
    value_class: str
    compressed: bool
    block_compressed: bool
    codec: str | None
    metadata: dict[str, str]
    sync: bytes


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise SequenceFileError(f"the file ends inside {what} ({len(data)} of {size} bytes)")
    return data


def read_vint(stream: BinaryIO) -> int:
    """Hadoop ``WritableUtils.readVInt``/``readVLong`` (zero-compressed, big-endian)."""
    first = struct.unpack(">b", _read_exact(stream, 1, "a variable-length integer"))[0]
    if first >= -112:
        return int(first)
    negative = first < -120
    size = (-119 - first) if negative else (-111 - first)
    value = 0
    for byte in _read_exact(stream, size - 1, "a variable-length integer"):
        value = (value << 8) | byte
    return ~value if negative else value


def _read_text(stream: BinaryIO, what: str) -> str:
    length = read_vint(stream)
    if length < 0:
        raise SequenceFileError(f"negative length for {what}")
    return _read_exact(stream, length, what).decode("utf-8")


def _read_bool(stream: BinaryIO, what: str) -> bool:
    return _read_exact(stream, 1, what) != b"\x00"


def _read_int(stream: BinaryIO, what: str) -> int:
    return int(struct.unpack(">i", _read_exact(stream, 4, what))[0])


def read_header(stream: BinaryIO) -> SequenceFileHeader:
    """Parse the header; the stream is left at the first record."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[:3] != b"SEQ":
        raise SequenceFileError("not a Hadoop SequenceFile (it does not start with 'SEQ')")
    version = magic[3]
    if version not in SUPPORTED_VERSIONS:
        raise SequenceFileError(f"SequenceFile version {version} is not supported (only 6)")
    key_class = _read_text(stream, "the key class name")
    value_class = _read_text(stream, "the value class name")
    compressed = _read_bool(stream, "the compression flag")
    block_compressed = _read_bool(stream, "the block-compression flag")
    codec = _read_text(stream, "the codec class name") if compressed else None
    count = _read_int(stream, "the metadata count")
    if count < 0:
        raise SequenceFileError("negative metadata count")
    metadata = {}
    for _ in range(count):
        key = _read_text(stream, "a metadata key")
        metadata[key] = _read_text(stream, "a metadata value")
    sync = _read_exact(stream, SYNC_SIZE, "the sync marker")
    return SequenceFileHeader(
        version, key_class, value_class, compressed, block_compressed, codec, metadata, sync
    )


def iter_records(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(key bytes, value bytes)`` of every record of an uncompressed SequenceFile.

    Raises:
        SequenceFileError: On a truncated or compressed file, or a wrong sync marker.
    """
    with path.open("rb") as stream:
        header = read_header(stream)
        if header.compressed or header.block_compressed:
            kind = "block" if header.block_compressed else "record"
            raise SequenceFileError(
                f"{path}: {kind}-compressed SequenceFiles ({header.codec}) are not supported;"
                " re-save the model with Hadoop output compression off"
            )
        while True:
            head = stream.read(4)
            if not head:
                return
            if len(head) < 4:
                raise SequenceFileError(f"{path}: the file ends inside a record length")
            length = int(struct.unpack(">i", head)[0])
            if length == SYNC_ESCAPE:
                if _read_exact(stream, SYNC_SIZE, "a sync marker") != header.sync:
                    raise SequenceFileError(f"{path}: a sync marker does not match the header's")
                continue
            key_length = _read_int(stream, "a key length")
            if not 0 <= key_length <= length:
                raise SequenceFileError(f"{path}: key length {key_length} outside record length {length}")
            key = _read_exact(stream, key_length, "a key")
            value = _read_exact(stream, length - key_length, "a value")
            yield key, value


def bytes_writable(value: bytes) -> bytes:
    """The payload of a serialized ``BytesWritable`` (int length, then the bytes)."""
    if len(value) < 4:
        raise SequenceFileError("a BytesWritable value shorter than its length field")
    size = int(struct.unpack(">i", value[:4])[0])
    if size != len(value) - 4:
        raise SequenceFileError(f"a BytesWritable says {size} bytes but holds {len(value) - 4}")
    return value[4:]


def read_object_file(folder: Path) -> Iterator[bytes]:
    """Payloads of Spark's ``saveAsObjectFile`` output: every ``part-*`` file, in order.

    Raises:
        SequenceFileError: When the folder has no part files or a part is not of the
            ``NullWritable`` -> ``BytesWritable`` kind Spark writes.
    """
    parts = sorted(p for p in folder.glob("part-*") if p.is_file() and not p.name.endswith(".crc"))
    if not parts:
        raise SequenceFileError(f"{folder} has no part-* files")
    for part in parts:
        with part.open("rb") as stream:
            header = read_header(stream)
        if not header.value_class.endswith("BytesWritable"):
            raise SequenceFileError(f"{part}: values are {header.value_class}, expected BytesWritable")
        for _key, value in iter_records(part):
            yield bytes_writable(value)
