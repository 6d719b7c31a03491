from __future__ import annotations

import io
import json
import logging

import pytest

from paver.logs import MaskingFilter, configure, mask


@pytest.mark.parametrize(("raw", "secret"), [
    ("credential 91350100M000100Y43 checked", "91350100M000100Y43"),
    ("credential 91110000600037341 (no check character)", "0000600037"),  # 17 characters
    ("credential 9111-0000-6000-37341L", "0000-6000"),  # hyphenated as printed
    ("credential 9111 0000 6000 37341L.", "0000 6000"),
    ("credential 91110000600037341l", "0000600037"),  # lower case
    ("uscc=91110000600037341L&x=1", "0000600037"),
    ("call 13812345678", "13812345678"),
    ("call +86 138-1234-5678", "138-1234"),
    ("from A000123 to A004567", "A000123"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQMSJ9.c2lnbmF0dXJl", "eyJ"),
])
def test_personal_data_is_masked(raw: str, secret: str) -> None:
    assert secret not in mask(raw)


def test_ids_that_are_not_personal_data_survive() -> None:
    text = "merchant P0001-M00001 code code-P0001-M00001 amount 12.50 at 2026-11-01T10:00:00Z"
    assert mask(text) == text
    for text in ("txn-3f2a9c41d0e8b7a6c5d4e3f2", "ConditionalCheckFailedException",
                 "2026-11-01 10:00:00 2026-11-02", "sha256 " + "ab" * 32):
        assert mask(text) == text


def test_a_masked_credential_keeps_its_ends() -> None:
    assert mask("9111-0000-6000-37341L") == "91**************1L"
    assert mask("91110000600037341") == "91*************41"


def test_records_are_masked_in_message_args_extras_and_tracebacks() -> None:
    buf = io.StringIO()
    configure(stream=buf)
    log = logging.getLogger("paver.test")
    try:
        raise ValueError("bad phone 13900001111")
    except ValueError:
        log.exception("merchant %s uscc %s", "M1", "91350100M000100Y43",
                      extra={"ctx_phone": "13912345678"})
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    text = json.dumps(line)
    assert "91350100M000100Y43" not in text and "13912345678" not in text
    assert "13900001111" not in text
    assert line["message"].startswith("merchant M1 uscc 91**")
    assert any(isinstance(f, MaskingFilter) for h in logging.getLogger().handlers
               for f in h.filters)


def test_importing_the_app_keeps_paver_logs_on_the_masking_handler() -> None:
    import app  # noqa: F401 - the import is what could steal the "paver" logger

    assert logging.getLogger("paver").propagate
    assert not logging.getLogger("paver").handlers
