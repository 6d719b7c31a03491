"""Paver domain core: trust-tiered rollout of aggregated payment codes, risk-scene identification.

Shipped to Lambda as a layer; pure Python, no Chalice import.
"""

__version__ = "0.1.0"
