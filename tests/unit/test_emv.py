"""EMV MPM codec: public examples, aggregated code, errors, round-trip properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paver import emv
from paver.emv import EmvError, MerchantAccount

# Published payloads; each CRC is the one printed in its source and verified by our CRC.
PIX_BCB = ("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865"
           "802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D")  # BCB Pix manual
EMVCO_SPEC = (  # EMVCo MPM specification v1.1, example with language template 64
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802"
    "CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412"
    "340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A")
PROMPTPAY_STATIC = "00020101021129370016A000000677010111011300660000000005802TH530376463048956"
PROMPTPAY_AMOUNT = ("00020101021229370016A000000677010111011300660000000005802TH530376454044.22"
                    "6304E469")  # promptpay-qr reference: phone 000-000-0000, 4.22 THB

PLATFORM = MerchantAccount("com.paver.platform", "P0000012345")
PARTNER = MerchantAccount("A000000333010102", "888123456789012", {"02": "T0001"})


def aggregated(**overrides: object) -> str:
    kwargs: dict[str, object] = dict(
        platform=PLATFORM, partner=PARTNER, merchant_name="Hangzhou West Lake Tea",
        merchant_city="Hangzhou", mcc="5812", postal_code="310000", store_label="Store 0012",
        terminal_label="T-0001", campaign_ref="CAMP-2026-Q1", name_zh="杭州西湖龙井茶社",
        city_zh="杭州")
    kwargs.update(overrides)
    return emv.build_aggregated_code(**kwargs)  # type: ignore[arg-type]


def test_crc16_ccitt_false_check_value() -> None:
    assert emv.crc16_ccitt_false(b"123456789") == 0x29B1
    assert emv.crc16_ccitt_false(b"") == 0xFFFF


@pytest.mark.parametrize("payload", [PIX_BCB, EMVCO_SPEC, PROMPTPAY_STATIC, PROMPTPAY_AMOUNT])
def test_published_examples_have_valid_crc(payload: str) -> None:
    result = emv.decode(payload)
    assert result.valid, result.errors
    assert result.crc == payload[-4:]
    # Re-encoding the raw tree reproduces the published string byte for byte.
    body = [(n.tag, n.value) for n in result.tlv if n.tag != "63"]
    assert emv.encode(body) == payload


def test_pix_example_fields() -> None:
    r = emv.decode(PIX_BCB)
    assert r.conformant and not r.warnings
    assert (r.merchant_name, r.merchant_city, r.country_code, r.currency, r.mcc) == (
        "Fulano de Tal", "BRASILIA", "BR", "986", "0000")
    (account,) = r.merchant_accounts
    assert account.tag == "26" and account.guid == "br.gov.bcb.pix"
    assert account.merchant_id == "123e4567-e12b-12d1-a456-426655440000"
    assert r.additional_data == {"reference_label": "***"}


def test_emvco_example_language_template_counts_characters() -> None:
    r = emv.decode(EMVCO_SPEC)
    assert r.valid and r.conformant, r.warnings
    assert r.language == emv.LanguageTemplate("ZH", "最佳运输", "北京")
    assert "0104最佳运输" in EMVCO_SPEC  # length 04 = four characters (twelve UTF-8 bytes)
    assert r.amount == "23.72" and r.point_of_initiation == "12"
    assert [(a.tag, a.guid) for a in r.merchant_accounts] == [
        ("29", "D15600000000"), ("31", "D15600000001")]
    assert [(u.tag, u.guid) for u in r.unreserved_templates] == [("91", "A011223344998877")]
    assert r.additional_data["terminal_label"] == "A6008667"
    lang = next(n for n in r.tlv if n.tag == "64")
    assert lang.children is not None and [c.tag for c in lang.children] == ["00", "01", "02"]


def test_real_world_code_missing_mandatory_tags_is_valid_not_conformant() -> None:
    r = emv.decode(PROMPTPAY_STATIC)
    assert r.valid and not r.conformant
    assert any("52" in w for w in r.warnings)
    assert any("59" in w for w in r.warnings)
    assert r.merchant_accounts[0].merchant_id == "0066000000000"
    assert emv.decode(PROMPTPAY_AMOUNT).amount == "4.22"


def test_lower_case_crc_is_accepted_with_warning() -> None:
    payload = PIX_BCB[:-4] + PIX_BCB[-4:].lower()
    r = emv.decode(payload)
    assert r.valid and not r.conformant
    assert any("lower-case" in w for w in r.warnings)


@pytest.mark.parametrize(("payload", "fragment"), [
    (PIX_BCB[:-4] + "1D3E", "CRC mismatch"),
    (PIX_BCB[:-8], "missing CRC"),
    (PIX_BCB[:-3], "declares 4"),
    ("0002016", "truncated"),
    ("\u0660\u06600201", "invalid data object ID"),
    ("AB02016304FFFF", "invalid data object ID"),
    ("00X2016304FFFF", "invalid length"),
    ("", "empty payload"),
    (PIX_BCB + "0000", "must be the last"),
])
def test_invalid_payloads(payload: str, fragment: str) -> None:
    r = emv.decode(payload)
    assert not r.valid and not r.conformant
    assert any(fragment in e for e in r.errors), r.errors


def test_aggregated_code_round_trip() -> None:
    payload = aggregated()
    assert len(payload) >= 200
    r = emv.decode(payload)
    assert r.valid and r.conformant, r.warnings
    assert (r.merchant_name, r.merchant_city, r.mcc, r.currency, r.country_code) == (
        "Hangzhou West Lake Tea", "Hangzhou", "5812", "156", "CN")
    assert r.postal_code == "310000" and r.point_of_initiation == "11"
    assert [(a.tag, a.guid, a.merchant_id) for a in r.merchant_accounts] == [
        ("26", PLATFORM.guid, PLATFORM.merchant_id), ("27", PARTNER.guid, PARTNER.merchant_id)]
    assert r.merchant_accounts[1].fields["02"] == "T0001"
    assert r.additional_data == {"store_label": "Store 0012", "reference_label": "CAMP-2026-Q1",
                                 "terminal_label": "T-0001"}
    assert r.language == emv.LanguageTemplate("ZH", "杭州西湖龙井茶社", "杭州")
    d = r.to_dict()
    assert {"valid", "conformant", "errors", "warnings", "merchant_accounts", "language",
            "amount", "tlv"} <= set(d)


def test_aggregated_code_explicit_tags_and_minimal_fields() -> None:
    payload = emv.build_aggregated_code(
        MerchantAccount("com.paver.platform", "P1", tag="30"), MerchantAccount("cn.bank", "M1"),
        "Noodle Bar", "Chengdu", "5814")
    r = emv.decode(payload)
    assert r.conformant
    assert [a.tag for a in r.merchant_accounts] == ["26", "30"]
    assert r.language is None and r.additional_data == {}


def test_contains_merchant_account() -> None:
    payload = aggregated()
    assert emv.contains_merchant_account(payload, PARTNER.merchant_id)
    assert emv.contains_merchant_account(payload, PARTNER.merchant_id, PARTNER.guid.lower())
    assert emv.contains_merchant_account(payload, PLATFORM.merchant_id, PLATFORM.guid)
    assert not emv.contains_merchant_account(payload, PARTNER.merchant_id, PLATFORM.guid)
    assert not emv.contains_merchant_account(payload, "888123456789013")
    tampered = payload.replace(PARTNER.merchant_id, "888123456789099")
    assert not emv.contains_merchant_account(tampered, "888123456789099")  # CRC breaks


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"merchant_name": "Hangzhou West Lake Tea House"}, "merchant_name has 28 characters"),
    ({"merchant_name": "杭州茶社"}, "printable ASCII"),
    ({"merchant_name": ""}, "merchant_name must be a non-empty"),
    ({"merchant_city": "Hangzhou Xihu District"}, "merchant_city has 22"),
    ({"mcc": "58a2"}, "mcc"),
    ({"mcc": "581"}, "mcc"),
    ({"currency": "CNY"}, "currency"),
    ({"country": "cn"}, "country"),
    ({"postal_code": "31000012345"}, "postal_code"),
    ({"store_label": "S" * 26}, "store_label"),
    ({"campaign_ref": "C" * 26}, "campaign_ref"),
    ({"name_zh": "字" * 26}, "name_zh"),
    ({"city_zh": "城" * 16}, "city_zh"),
    ({"name_zh": None}, "city_zh needs name_zh"),
    ({"partner": MerchantAccount("COM.PAVER.PLATFORM", "X")}, "different GUIDs"),
    ({"partner": MerchantAccount("g" * 33, "X")}, "partner.guid"),
    ({"partner": MerchantAccount("cn.bank", "X", tag="26")}, "both use template ID 26"),
    ({"partner": MerchantAccount("cn.bank", "X", tag="52")}, "template ID 26-51"),
    ({"partner": MerchantAccount("cn.bank", "X", {"01": "dup"})}, "sub-ID"),
    ({"partner": MerchantAccount("cn.bank", "X" * 90)}, "01-99"),
    ({"mcc": None}, "mcc is required"),
])
def test_build_errors_name_the_field(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(EmvError, match=None) as info:
        aggregated(**overrides)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("elements", "fragment"), [
    ([("1A", "x")], "two digits"),
    ([("59", "x" * 100)], "01-99"),
    ([("59", "")], "01-99"),
    ([("59", "a"), ("59", "b")], "twice"),
    ([("63", "ABCD")], "computed by encode"),
    ([("26", [("0", "x")])], "'26.0'"),
    ([(f"{i}", "x" * 99) for i in range(80, 86)], "at most 512"),
])
def test_encode_errors(elements: list[tuple[str, object]], fragment: str) -> None:
    with pytest.raises(EmvError) as info:
        emv.encode(elements)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_encode_puts_payload_format_first_and_appends_crc() -> None:
    payload = emv.encode({"59": "A", "00": "01"})
    assert payload.startswith("000201") and payload[-8:-4] == "6304"
    assert emv.decode(payload).valid


@pytest.mark.parametrize(("payload_body", "fragment"), [
    ("000201" "52045812" "5303156" "5802CN" "5901X" "6001Y", "no merchant account"),
    ("000202" "0203abc" "52045812" "5303156" "5802CN" "5901X" "6001Y", "expected '01'"),
    ("000201" "0203abc" "52035812"[:0] + "5203581" "5303156" "5802CN" "5901X" "6001Y",
     "must be 4 digits"),
    ("000201" "0203abc" "52045812" "5303156" "5802cn" "5901X" "6001Y", "two upper-case"),
    ("000201" "0203abc" "52045812" "5303156" "5802CN" "5904茶社茶社" "6001Y", "common character"),
    ("000201" "0203abc" "52045812" "5303156" "5802CN" "5901X" "6001Y" "6403XYZ",
     "not well-formed"),
    ("000201" "26080104abcd" "52045812" "5303156" "5802CN" "5901X" "6001Y", "no GUID"),
    ("000201" "0203abc" "52045812" "5303156" "5406-12.00" "5802CN" "5901X" "6001Y",
     "transaction amount"),
    ("000201" "0203abc" "52045812" "5303156" "550202" "5802CN" "5901X" "6001Y", "(56)"),
    ("000201" "0203abc" "52045812" "5303156" "5802CN" "5901X" "6001Y" "7002ab", "reserved"),
    ("000201" "0203abc" "0203abd" "52045812" "5303156" "5802CN" "5901X" "6001Y",
     "more than once"),
])
def test_conformance_warnings(payload_body: str, fragment: str) -> None:
    payload = payload_body + "6304"
    payload += f"{emv.crc16_ccitt_false(payload.encode()):04X}"
    r = emv.decode(payload)
    assert r.valid, r.errors
    assert not r.conformant
    assert any(fragment in w for w in r.warnings), r.warnings


def test_primitive_accounts_are_listed_with_network() -> None:
    payload = emv.encode([("01", "11"), ("04", "5555444433332222"), ("15", "6212345678901234"),
                          ("52", "5812"), ("53", "156"), ("58", "CN"), ("59", "X"),
                          ("60", "Y")])
    r = emv.decode(payload)
    assert r.conformant
    assert [(a.tag, a.guid, a.network, a.merchant_id) for a in r.merchant_accounts] == [
        ("04", None, "Mastercard", "5555444433332222"),
        ("15", None, "UnionPay", "6212345678901234")]


# ---------------------------------------------------------------------------- properties

ANS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
              max_size=25)
CJK = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1,
              max_size=15)
TAG = st.integers(0, 99).map(lambda i: f"{i:02d}")
PRIMITIVE = st.text(min_size=1, max_size=40).filter(lambda s: len(s) <= 99)


@st.composite
def element_trees(draw: st.DrawFn) -> list[tuple[str, object]]:
    tags = draw(st.lists(TAG.filter(lambda t: t not in ("00", "63")), max_size=6, unique=True))
    out: list[tuple[str, object]] = [("00", "01")]
    for tag in tags:
        if tag in emv.TEMPLATE_TAGS:
            subs = draw(st.lists(TAG, min_size=1, max_size=3, unique=True))
            out.append((tag, [(s, draw(st.text(min_size=1, max_size=20))) for s in subs]))
        else:
            out.append((tag, draw(PRIMITIVE)))
    return out


def _tree(nodes: tuple[emv.TLV, ...]) -> list[tuple[str, object]]:
    return [(n.tag, _tree(n.children) if n.children is not None else n.value) for n in nodes]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(element_trees())
def test_encode_decode_round_trip(elements: list[tuple[str, object]]) -> None:
    payload = emv.encode(elements)  # type: ignore[arg-type]
    r = emv.decode(payload)
    assert r.valid, r.errors
    assert _tree(r.tlv)[:-1] == elements
    assert r.tlv[-1].tag == "63"


@settings(max_examples=60, deadline=None)
@given(name=ANS, city=ANS.map(lambda s: s[:15]), mcc=st.from_regex(r"[0-9]{4}", fullmatch=True),
       partner_id=st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=30),
       label=st.none() | ANS, name_zh=st.none() | CJK, city_zh=st.none() | CJK)
def test_aggregated_code_property(name: str, city: str, mcc: str, partner_id: str,
                                  label: str | None, name_zh: str | None,
                                  city_zh: str | None) -> None:
    if name_zh is None:
        city_zh = None
    partner = MerchantAccount("A000000333010102", partner_id)
    payload = emv.build_aggregated_code(PLATFORM, partner, name, city, mcc, store_label=label,
                                        name_zh=name_zh, city_zh=city_zh)
    r = emv.decode(payload)
    assert r.valid and r.conformant, (r.errors, r.warnings)
    assert (r.merchant_name, r.merchant_city, r.mcc) == (name, city, mcc)
    assert r.additional_data.get("store_label") == label
    if name_zh:
        assert r.language is not None
        assert (r.language.merchant_name, r.language.merchant_city) == (name_zh, city_zh)
    assert emv.contains_merchant_account(payload, partner_id, partner.guid)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet="0123456789ABCDEF", max_size=80))
def test_decode_never_raises(payload: str) -> None:
    r = emv.decode(payload)
    assert r.valid == (not r.errors)
    assert not r.conformant or r.valid


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 240), st.characters(min_codepoint=0x20, max_codepoint=0x7E))
def test_single_character_corruption_is_detected(position: int, char: str) -> None:
    payload = aggregated()
    i = position % (len(payload) - 4)
    corrupted = payload[:i] + char + payload[i + 1:]
    if corrupted != payload:
        assert not emv.decode(corrupted).valid
