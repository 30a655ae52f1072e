"""Community: agency requests and the owner's answers, posts to neighbours.

- :mod:`hub.community.formats` is the pure code of the files that other tools read and write too
  (``../shared/formats``: trust cards, signed requests, evidence packages, posts, the audit log's
  entries): parsing, signing and verifying, with no index and no hub. ``porchlight agency …`` needs
  it without a data dir, so the CLI may import it directly (see the import contracts).
- The store, the local matching, the holds and the audit log sit beside it, in the engine: clients
  reach them only through the Hub API.
"""
