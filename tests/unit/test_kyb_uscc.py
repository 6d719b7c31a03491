"""Unified Social Credit Code: validation reasons, agreement with stdnum, generator."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from paver.kyb.uscc import (
    ALPHABET,
    corrupt_uscc,
    generate_uscc,
    is_valid_uscc,
    uscc_check_character,
    validate_uscc,
)

# Commonly cited valid examples (stdnum's doctest and a widely published sample).
KNOWN_VALID = ["91350100M000100Y43", "91110000600037341L"]


def _with_check(first17: str) -> str:
    return first17 + uscc_check_character(first17)


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_valid_codes(code: str) -> None:
    assert stdnum_uscc.is_valid(code)
    assert validate_uscc(code) == (True, None)


def test_normalisation_spaces_hyphens_lower_case() -> None:
    assert validate_uscc("9135 0100-M000 100y 43") == (True, None)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "wrong_length"),
        ("91350100M000100Y433", "wrong_length"),
        ("", "wrong_length"),
        ("91350100M000100Y4I", "invalid_character"),  # I is not in the alphabet
        ("91350100O000100Y43", "invalid_character"),
        ("913501A0M000100Y43", "invalid_character"),  # region code must be digits
        ("91350100M000100Y4！", "invalid_character"),
        ("91350100M000100Y44", "bad_check_character"),
        ("91350100M000100Y34", "bad_check_character"),  # transposition
        ("91110000600037341X", "bad_check_character"),
    ],
)
def test_invalid_codes_and_reasons(code: str, reason: str) -> None:
    assert validate_uscc(code) == (False, reason)
    assert not stdnum_uscc.is_valid(code)


def test_registration_authority_and_entity_type() -> None:
    # Correct check character, but authority 0 does not exist: stdnum only checks digits.
    zero = _with_check("01350100M000100Y4")
    assert stdnum_uscc.is_valid(zero)
    assert validate_uscc(zero) == (False, "bad_registration_authority")
    assert validate_uscc(_with_check("B1350100M000100Y4")) == (False, "bad_registration_authority")
    # Authority 9 (market regulation) only registers types 1, 2 and 3.
    bad_type = _with_check("95350100M000100Y4")
    assert stdnum_uscc.is_valid(bad_type)
    assert validate_uscc(bad_type) == (False, "bad_entity_type")
    # Authorities N, A and Y are legal in GB 32100 although stdnum rejects letters there.
    for first2 in ("N2", "A1", "Y1", "51", "12"):
        code = _with_check(first2 + "350100M000100Y4")
        assert validate_uscc(code) == (True, None), code


def test_not_a_string() -> None:
    assert validate_uscc(91350100) == (False, "not_a_string")  # type: ignore[arg-type]


@given(seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=300, deadline=None)
def test_generated_codes_are_valid_and_stdnum_agrees(seed: int) -> None:
    rng = random.Random(seed)
    code = generate_uscc(rng)
    assert len(code) == 18 and code[0] == "9" and code[1] in "123"
    assert all(ch in ALPHABET for ch in code)
    assert validate_uscc(code) == (True, None)
    assert stdnum_uscc.validate(code) == code


@given(seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=300, deadline=None)
def test_corrupted_codes_are_invalid_and_stdnum_agrees(seed: int) -> None:
    rng = random.Random(seed)
    code = generate_uscc(rng)
    broken = corrupt_uscc(code, rng)
    assert broken != code and len(broken) == 18
    assert sum(a != b for a, b in zip(code, broken, strict=True)) == 1
    assert validate_uscc(broken) == (False, "bad_check_character")
    assert not stdnum_uscc.is_valid(broken)
    for kind, reason in (("length", "wrong_length"), ("character", "invalid_character")):
        other = corrupt_uscc(code, rng, kind=kind)  # type: ignore[arg-type]
        assert validate_uscc(other) == (False, reason)
        assert not stdnum_uscc.is_valid(other)


def test_generator_is_reproducible_and_respects_arguments() -> None:
    assert generate_uscc(random.Random(5)) == generate_uscc(random.Random(5))
    code = generate_uscc(random.Random(1), entity_type="3", region="440300")
    assert code.startswith("93440300")
    assert is_valid_uscc(code)
    with pytest.raises(ValueError):
        generate_uscc(random.Random(1), entity_type="7")
    with pytest.raises(ValueError):
        generate_uscc(random.Random(1), region="4403")
    kinds = {generate_uscc(random.Random(s))[1] for s in range(200)}
    assert kinds == {"1", "2", "3"}


def test_vectorised_check_characters_match_stdnum() -> None:
    """One checksum: the array form (features, synthetic world) agrees with python-stdnum."""
    import numpy as np

    from paver.kyb.uscc import ALPHABET, uscc_check_indices

    body = np.random.default_rng(7).integers(0, len(ALPHABET), size=(300, 17))
    got = uscc_check_indices(body)
    want = [ALPHABET.index(stdnum_uscc.calc_check_digit("".join(ALPHABET[i] for i in row)))
            for row in body]
    assert got.tolist() == want
