"""Merchant binding and upgrade from a store photo and the business credential (claim 4)."""

#: The largest store photo accepted (bytes): published by the API's upload model, which must
#: not load the service (Pillow, the QR readers) to say so.
MAX_PHOTO_BYTES = 15 * 1024 * 1024
