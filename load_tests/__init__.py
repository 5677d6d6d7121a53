"""Locust load tests of the served models over gRPC (docs/load-testing.md).

- ``locustfile``: the gRPC user (on the ``clinserve`` client library), the named load shape,
  the command-line options and the service-level checks; the only module that imports Locust;
- ``workload``: which models (and modes) are called, with what weights and payloads (the
  payload texts come from ``lab.corpus``, seeded, in four lengths);
- ``shapes``: the steady, step-ramp and spike load shapes as pure functions of time;
- ``slo``: service-level thresholds and their evaluation against a run's statistics;
- ``run``: ``make load-test``: starts a local server when no URL is given, runs Locust
  headless for a bounded time and writes the CSV and HTML reports.

Everything but ``locustfile`` is plain Python (no gevent), so the unit tests import it freely.
"""
