"""Persistence: SQLAlchemy models grouped by concept, engine and sessions, Alembic migrations.

Importing the package imports no model: a process that only reads the index store (``kyc screen``) never pays for
declaring thirty-odd mapped classes. Every model is registered on ``Base.metadata`` before the first mapper is
configured (``kyc.storage.base.register_models``), so relationships between concepts (a job's hits) resolve
whichever model module a caller imports first, and the migrations see one schema.
"""
