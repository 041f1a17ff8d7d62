"""SQLite storage for tokentape. Never imports textual."""

from storage.db import SCHEMA_VERSION, StorageError, Store

__all__ = ["SCHEMA_VERSION", "StorageError", "Store"]
