"""Database engine, transactions and portable column types."""

from app.db.engine import Database, Tx
from app.db.types import UTCDateTime, utcnow

__all__ = ["Database", "Tx", "UTCDateTime", "utcnow"]
