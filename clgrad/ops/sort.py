"""Sorting and searching."""
__all__ = []
