"""The screening domain core: entries, parties, matching, storage, legal basis and audit.

Nothing in this package imports ``api``, ``workers`` or ``lists``: the core stays testable without a server.
"""

__version__ = "0.1.0"
