"""The Spark NLP storage formats: Hadoop SequenceFiles and Java-serialized (String, Int) arrays.

Fixtures are written by tests/fixtures/spark_nlp_layouts.py from the format specifications,
independently of the readers under test.
"""

from __future__ import annotations

import io

import pytest

from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.java_pairs import decode_pairs, pairs_to_index
from clinserve_runtime.importers.sequencefile import (
    SequenceFileError,
    bytes_writable,
    iter_records,
    read_header,
    read_object_file,
    read_vint,
)
from tests.fixtures.spark_nlp_layouts import (
    _vint,
    java_serialize_pairs,
    write_object_file,
    write_sequence_file,
)


@pytest.mark.parametrize(
    "value", [0, 1, -1, 127, -112, -113, 128, 255, 256, 65535, -65536, 2**31 - 1, -(2**31)]
)
def test_vint_round_trips_hadoop_encoding(value):
    assert read_vint(io.BytesIO(_vint(value))) == value


def test_sequence_file_header_and_records_are_read_across_sync_markers(tmp_path):
    values = [b"abc", b"", b"xy"] * 3
    path = tmp_path / "part-00000"
    write_sequence_file(path, values, sync_every=2)
    with path.open("rb") as stream:
        header = read_header(stream)
    assert header.key_class == "org.apache.hadoop.io.NullWritable"
    assert header.value_class == "org.apache.hadoop.io.BytesWritable"
    assert not header.compressed
    records = list(iter_records(path))
    assert [key for key, _ in records] == [b""] * len(values)
    assert [bytes_writable(value) for _, value in records] == values


def test_sequence_file_reader_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "part-00000"
    write_sequence_file(path, [b"hello"])
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(SequenceFileError, match="ends inside"):
        list(iter_records(path))


def test_sequence_file_reader_refuses_compressed_files_with_the_fix(tmp_path):
    path = tmp_path / "part-00000"
    write_sequence_file(path, [b""])
    data = bytearray(path.read_bytes())
    flags_at = (
        4 + 1 + len("org.apache.hadoop.io.NullWritable") + 1 + len("org.apache.hadoop.io.BytesWritable")
    )
    codec = b"org.apache.hadoop.io.compress.DefaultCodec"
    data[flags_at : flags_at + 2] = b"\x01\x00" + _vint(len(codec)) + codec
    path.write_bytes(bytes(data))
    with pytest.raises(SequenceFileError, match=r"record-compressed.*DefaultCodec.*compression off"):
        list(iter_records(path))


def test_sequence_file_reader_rejects_other_files(tmp_path):
    path = tmp_path / "part-00000"
    path.write_bytes(b"PK\x03\x04 not a sequence file")
    with pytest.raises(SequenceFileError, match="not a Hadoop SequenceFile"):
        list(iter_records(path))


def test_java_array_of_tuples_decodes_strings_and_boxed_ints():
    pairs = [("[PAD]", 0), ("naïve", 1), ("##ing", 4000), ("x", 1), ("", 70000), ("y", -5)]
    assert decode_pairs(java_serialize_pairs(pairs), where="test") == pairs


def test_object_file_groups_ten_tuples_per_record_over_several_parts(tmp_path):
    pairs = [(f"token{i}", i) for i in range(47)]
    write_object_file(tmp_path / "vocabulary", pairs, partitions=3)
    payloads = list(read_object_file(tmp_path / "vocabulary"))
    assert len(payloads) == 2 + 2 + 2  # 16, 16, 15 tuples per part, ten per record
    decoded = [pair for payload in payloads for pair in decode_pairs(payload, where="test")]
    assert decoded == pairs


def test_decode_pairs_rejects_a_payload_that_is_not_java_serialized():
    with pytest.raises(ImportFailure, match="not a Java-serialized object stream"):
        decode_pairs(b"\x00\x01\x02\x03", where="fields/labels record 0")


def test_pairs_to_index_rejects_gaps_and_repeats():
    assert pairs_to_index([("b", 1), ("a", 0)], what="labels") == {"a": 0, "b": 1}
    with pytest.raises(ImportFailure, match=r"ids are not 0\.\.1"):
        pairs_to_index([("a", 0), ("b", 2)], what="labels")
    with pytest.raises(ImportFailure, match="appears twice"):
        pairs_to_index([("a", 0), ("a", 1)], what="labels")
