"""Merchant binding and upgrade from a store photo and the business credential (claim 4)."""
