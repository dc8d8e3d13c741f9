"""Kept so ``from stockbridge.connectors.qbo.sandbox_books import Books`` (the
``sandbox qbo`` command) goes on working; the books live in ``sandbox.books``."""

from stockbridge.connectors.qbo.sandbox.books import Books

__all__ = ["Books"]
