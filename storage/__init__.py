"""SQLite storage for tokentape. Never imports textual."""

from storage.db import SCHEMA_VERSION, Store, StorageError

__all__ = ["SCHEMA_VERSION", "Store", "StorageError"]
