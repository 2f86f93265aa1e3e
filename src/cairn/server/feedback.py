"""Thumbs up or down on an answer, by trace id: the `feedback` table of `server.db`.

One rating per trace and user: a later one (or a comment sent after the thumb) replaces it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Protocol, runtime_checkable

from cairn.server.db import StateDB, writing


@runtime_checkable
class FeedbackStore(Protocol):
    """Ratings of answers by trace id: record one, list the recent ones."""

    def add(
        self, *, trace_id: str, tenant: str, user: str | None, rating: str, comment: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Record a rating; one per trace and user, so a second call (a comment following a
        thumb) updates it, keeping the comment when none is given. Returns (item, created)."""
        ...

    def recent(self, *, tenant: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; one tenant's, or everyone's when `tenant` is None (local mode)."""
        ...


class SQLiteFeedbackStore:
    """`FeedbackStore` on the `feedback` table of `server.db`, or of Postgres (`StateDB`);
    a rating's read and write are one serial transaction."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def add(
        self, *, trace_id: str, tenant: str, user: str | None, rating: str, comment: str | None
    ) -> tuple[dict[str, Any], bool]:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with writing(self.db) as db:
            row = db.execute(
                "SELECT id, comment FROM feedback WHERE trace_id = ? AND tenant = ? "
                "AND COALESCE(user_id, '') = COALESCE(?, '')",
                (trace_id, tenant, user),
            ).fetchone()
            if row is None:
                item_id, created = "fb_" + secrets.token_hex(8), True
                db.execute(
                    "INSERT INTO feedback (id, trace_id, tenant, user_id, rating, comment, "
                    "created_at) VALUES (?,?,?,?,?,?,?)",
                    (item_id, trace_id, tenant, user, rating, comment, now),
                )
            else:
                item_id, created = row[0], False
                comment = comment if comment is not None else row[1]
                db.execute(
                    "UPDATE feedback SET rating = ?, comment = ?, created_at = ? WHERE id = ?",
                    (rating, comment, now, item_id),
                )
        item = {
            "id": item_id,
            "trace_id": trace_id,
            "rating": rating,
            "comment": comment,
            "user": user,
            "created_at": now,
        }
        return item, created

    def recent(self, *, tenant: str | None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self.db.reading() as db:
            rows = db.execute(
                "SELECT id, trace_id, rating, comment, user_id, created_at FROM feedback "
                f"{where} ORDER BY created_at DESC, id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            {
                "id": r[0],
                "trace_id": r[1],
                "rating": r[2],
                "comment": r[3],
                "user": r[4],
                "created_at": r[5],
            }
            for r in rows
        ]
