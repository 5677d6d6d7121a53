"""Load generator logic that needs no server: target URLs and the measurement window."""

from __future__ import annotations

import pytest

from benchmarks.loadgen import MAX_WINDOW_STRETCH, HttpTarget, parse_target, window_length


def test_window_keeps_the_asked_duration_for_fast_targets():
    assert window_length(8.0, [0.05, 0.04, 0.06]) == 8.0
    assert window_length(8.0, []) == 8.0


def test_window_stretches_to_three_typical_latencies_for_slow_targets():
    assert window_length(8.0, [3.0, 4.0, 5.0]) == pytest.approx(12.0)


def test_window_stretch_is_bounded():
    assert window_length(2.0, [100.0]) == pytest.approx(2.0 * MAX_WINDOW_STRETCH)


def test_http_target_keeps_host_port_and_path():
    target = parse_target("http://127.0.0.1:9100/predict")
    assert isinstance(target, HttpTarget)
    assert (target.host, target.port, target.path) == ("127.0.0.1", 9100, "/predict")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:1/x", "grpc://HOST:PORT/MODEL"),
        ("grpc://127.0.0.1/model", "grpc://HOST:PORT/MODEL"),
        ("grpc://127.0.0.1:8001/", "names no model"),
    ],
)
def test_a_bad_target_raises_error_naming_the_expected_form(url, message):
    with pytest.raises(ValueError, match=message):
        parse_target(url)
