"""Stockbridge keeps an online store and its back office in step.

Data flows one way: connector -> domain -> db, and back out through a connector.
"""

__version__ = "0.1.0"
