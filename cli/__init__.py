"""The ``porchlight`` command line: one module per command group, shared helpers in ``cli.common``.

The console script is :func:`cli.main.main`. Command modules import ``cli.common`` (and helpers that
are not commands), never each other; only ``cli.main`` touches ``ui/``, lazily, when no command is given.
"""
