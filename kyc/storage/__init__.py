"""Persistence: SQLAlchemy models grouped by concept, engine and sessions, Alembic migrations.

Importing the package registers every model on ``Base.metadata``, so that relationships between concepts (a job's
hits) resolve and the migrations see one schema, whichever model module a caller imports first.
"""

from kyc.storage import access, cases, hits, jobs, lists, logins, monitoring, subjects
from kyc.storage.base import Base

__all__ = ["Base", "access", "cases", "hits", "jobs", "lists", "logins", "monitoring", "subjects"]
