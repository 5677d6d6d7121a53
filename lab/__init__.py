"""Shared by everything that measures the server: the corpus and the load driver.

- ``corpus``: seeded clinical-style texts (benchmarks, reliability, load tests);
- ``driver``: closed- and open-loop load with an outcome for every request (benchmarks,
  reliability); Locust keeps its own users (load_tests/).

Nothing here imports the serving packages or a measurement tool.
"""
