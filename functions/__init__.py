"""Thin Lambda-style handlers, one Chalice Blueprint per module (``bp``)."""
