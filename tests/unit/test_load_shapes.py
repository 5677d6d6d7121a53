"""Load shapes (steady, step ramp, spike) as functions of the elapsed time."""

from __future__ import annotations

import pytest

from load_tests.shapes import SHAPES, ShapeSettings, Spike, Steady, StepRamp, make_shape


def test_steady_holds_the_users_until_the_run_time():
    shape = make_shape("steady", ShapeSettings(users=8, spawn_rate=2, run_time_s=60))
    assert isinstance(shape, Steady)
    assert [shape.tick(t) for t in (0, 30, 59.9)] == [(8, 2), (8, 2), (8, 2)]
    assert shape.tick(60) is None
    assert shape.describe() == "steady: 8 users (spawn rate 2/s) for 60s"


def test_steady_without_a_run_time_runs_until_stopped():
    shape = make_shape("steady", ShapeSettings(users=3, spawn_rate=1))
    assert shape.tick(1e9) == (3, 1)
    assert "until stopped" in shape.describe()


def test_step_ramp_climbs_in_equal_steps_to_the_peak():
    shape = make_shape("step", ShapeSettings(users=8, spawn_rate=4, run_time_s=40, steps=4))
    assert isinstance(shape, StepRamp)
    ticks = [shape.tick(t) for t in (0, 9.9, 10, 20, 30, 39.9)]
    assert ticks == [(2, 4), (2, 4), (4, 4), (6, 4), (8, 4), (8, 4)]
    assert shape.tick(40) is None
    assert shape.describe().startswith("step: 2 -> 4 -> 6 -> 8 users, 10s per step")


def test_step_ramp_never_drops_to_zero_users():
    shape = StepRamp(ShapeSettings(users=2, spawn_rate=1, run_time_s=50, steps=5))
    assert [shape.users_at_step(i) for i in range(5)] == [1, 1, 2, 2, 2]


def test_spike_is_a_burst_in_the_middle_fifth():
    shape = make_shape("spike", ShapeSettings(users=20, spawn_rate=2, run_time_s=100, spike_baseline=0.25))
    assert isinstance(shape, Spike)
    assert shape.tick(0) == (5, 2)
    assert shape.tick(39.9) == (5, 2)
    # The burst arrives within a second whatever --spawn-rate says, and leaves as fast.
    assert shape.tick(40) == (20, 20)
    assert shape.tick(59.9) == (20, 20)
    assert shape.tick(60) == (5, 20)
    assert shape.tick(99) == (5, 20)
    assert shape.tick(100) is None
    assert shape.describe() == "spike: 5 users, 20 users from 40s to 60s, then 5 users until 100s"


def test_spike_baseline_keeps_at_least_one_user():
    assert Spike(ShapeSettings(users=2, spawn_rate=1, run_time_s=10, spike_baseline=0.1)).baseline == 1


@pytest.mark.parametrize("name", ["step", "spike"])
def test_shapes_with_phases_need_a_run_time(name):
    with pytest.raises(ValueError, match=f"the {name} shape needs --run-time"):
        make_shape(name, ShapeSettings(users=4, spawn_rate=1))


def test_unknown_shape_names_the_choices():
    with pytest.raises(ValueError, match="unknown load shape 'ramp'; the shapes are steady, step, spike"):
        make_shape("ramp", ShapeSettings(users=1, spawn_rate=1))
    assert list(SHAPES) == ["steady", "step", "spike"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "--users must be at least 1"),
        ({"spawn_rate": 0}, "--spawn-rate must be positive"),
        ({"run_time_s": 0}, "--run-time must be positive"),
        ({"steps": 0}, "--shape-steps must be at least 1"),
        ({"spike_baseline": 1.5}, "--spike-baseline must be in"),
        ({"spike_baseline": 0}, "--spike-baseline must be in"),
    ],
)
def test_settings_name_the_bad_option(kwargs, message):
    values = {"users": 4, "spawn_rate": 1.0, "run_time_s": 60.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        ShapeSettings(**values)
