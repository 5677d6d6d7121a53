"""The ``clinserve`` command-line tool (see :mod:`clinserve.cli.main`)."""
