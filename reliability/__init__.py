"""Reliability scenarios against real local Triton servers (``make reliability``, docs/reliability.md).

Each scenario starts its own servers on loopback, drives load through the client library,
injects one fault or overload, and records what became of every request: answered (and
right), failed with a clear error, or lost. ``python -m reliability`` runs them and prints
the table.
"""
