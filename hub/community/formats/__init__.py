"""The community file formats (``../shared/formats``), pure code: parse, sign and verify the files.

Nothing here opens an index, starts a hub or touches the network: it imports nothing of the engine,
the Hub API, the drivers or Qt (an import contract in pyproject.toml), so it runs wherever a file
does, and the CLI's ``agency`` commands use it with no data dir.
"""
