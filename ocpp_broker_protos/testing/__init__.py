"""Helpers for testing against the reference server."""
