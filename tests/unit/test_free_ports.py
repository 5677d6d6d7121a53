"""Ports for side-by-side servers come from below the kernel's ephemeral range."""

from __future__ import annotations

import socket

from clinserve_runtime.triton import PICKED_PORTS_LOW, bind_loopback, ephemeral_port_range, free_ports


def test_ports_are_distinct_bindable_and_below_the_range_outgoing_connections_use(tmp_path):
    low, high = ephemeral_port_range()
    assert 1024 <= low < high
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(PICKED_PORTS_LOW <= port < low for port in ports), (ports, low)
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # free: nothing kept them


def test_a_range_that_leaves_no_room_below_it_lets_the_kernel_pick(tmp_path):
    whole = tmp_path / "range"
    whole.write_text("1024\t65535\n")
    assert ephemeral_port_range(whole) == (1024, 65535)
    ports = free_ports(3, range_file=whole)
    assert len(set(ports)) == 3 and all(port >= 1024 for port in ports)


def test_an_unreadable_range_reads_as_the_linux_default(tmp_path):
    assert ephemeral_port_range(tmp_path / "missing") == (32768, 60999)
    (tmp_path / "bad").write_text("not numbers")
    assert ephemeral_port_range(tmp_path / "bad") == (32768, 60999)


def test_a_port_in_use_is_never_handed_out(tmp_path):
    narrow = tmp_path / "range"
    narrow.write_text(f"{PICKED_PORTS_LOW + 1000}\t60999\n")  # 1,000 candidates
    held = [s for s in map(bind_loopback, range(PICKED_PORTS_LOW, PICKED_PORTS_LOW + 990)) if s is not None]
    try:
        taken = {s.getsockname()[1] for s in held}
        assert held and bind_loopback(held[0].getsockname()[1]) is None  # taken: refused, not raised
        ports = free_ports(5, range_file=narrow)
        assert not taken & set(ports)
        assert len(set(ports)) == 5
    finally:
        for s in held:
            s.close()
