"""EMVCo Merchant-Presented-Mode (MPM) QR payload codec.

The only EMV codec in Paver. A payload is a string of data objects, each a two-digit ID, a
two-digit length counted in *characters* (not bytes) and the value. Templates (merchant account
information 26–51, additional data 62, merchant information language template 64, unreserved
templates 80–99) hold nested data objects in the same format. The payload ends with the CRC
object ``63`` whose value is the CRC-16/CCITT-FALSE of the UTF-8 bytes of everything before it,
including ``"6304"`` itself, as four upper-case hex digits.

An **aggregated code** (:func:`build_aggregated_code`) carries the platform's and one partner's
merchant account templates side by side, each under its own GUID.

Decoding (:func:`decode`) never raises: it reports ``valid`` (well-formed TLV and a correct CRC)
and ``conformant`` (every EMVCo rule checked here holds). Problems that make a payload unusable
are ``errors``; departures from the specification that real-world codes make (a missing
mandatory tag, a lower-case CRC, an over-long name) are ``warnings`` and only clear
``conformant``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from paver.errors import InvalidInput

__all__ = [
    "MAX_PAYLOAD_CHARS",
    "TLV",
    "AccountEntry",
    "EmvError",
    "LanguageTemplate",
    "MerchantAccount",
    "ParseResult",
    "build_aggregated_code",
    "contains_merchant_account",
    "crc16_ccitt_false",
    "decode",
    "encode",
    "encode_tlv",
]

# Top-level data object IDs (EMVCo MPM v1.1, section 4).
ID_PAYLOAD_FORMAT = "00"
ID_POINT_OF_INITIATION = "01"
ID_MCC = "52"
ID_CURRENCY = "53"
ID_AMOUNT = "54"
ID_TIP_INDICATOR = "55"
ID_FEE_FIXED = "56"
ID_FEE_PERCENT = "57"
ID_COUNTRY = "58"
ID_MERCHANT_NAME = "59"
ID_MERCHANT_CITY = "60"
ID_POSTAL_CODE = "61"
ID_ADDITIONAL_DATA = "62"
ID_CRC = "63"
ID_LANGUAGE = "64"

POI_STATIC = "11"
POI_DYNAMIC = "12"

#: EMVCo limits the whole payload to 512 characters.
MAX_PAYLOAD_CHARS = 512
#: A GUID (sub-ID 00 of a merchant account or unreserved template) has at most 32 characters.
MAX_GUID_CHARS = 32

MAI_TEMPLATE_TAGS = frozenset(f"{i:02d}" for i in range(26, 52))
MAI_PRIMITIVE_TAGS = frozenset(f"{i:02d}" for i in range(2, 26))
UNRESERVED_TAGS = frozenset(f"{i:02d}" for i in range(80, 100))
RFU_TAGS = frozenset(f"{i:02d}" for i in range(65, 80))
TEMPLATE_TAGS = MAI_TEMPLATE_TAGS | UNRESERVED_TAGS | {ID_ADDITIONAL_DATA, ID_LANGUAGE}

#: Networks owning the primitive merchant account IDs 02–25.
PRIMITIVE_NETWORKS: Mapping[str, str] = {
    **{t: "Visa" for t in ("02", "03")},
    **{t: "Mastercard" for t in ("04", "05")},
    **{t: "EMVCo" for t in ("06", "07", "08")},
    **{t: "Discover" for t in ("09", "10")},
    **{t: "Amex" for t in ("11", "12")},
    **{t: "JCB" for t in ("13", "14")},
    **{t: "UnionPay" for t in ("15", "16")},
    **{f"{i:02d}": "EMVCo" for i in range(17, 26)},
}

#: Additional data field template (62) sub-IDs.
ADDITIONAL_DATA_FIELDS: Mapping[str, str] = {
    "01": "bill_number",
    "02": "mobile_number",
    "03": "store_label",
    "04": "loyalty_number",
    "05": "reference_label",
    "06": "customer_label",
    "07": "terminal_label",
    "08": "purpose_of_transaction",
    "09": "additional_consumer_data_request",
    "10": "merchant_tax_id",
    "11": "merchant_channel",
}

_MANDATORY = (ID_PAYLOAD_FORMAT, ID_MCC, ID_CURRENCY, ID_COUNTRY, ID_MERCHANT_NAME,
              ID_MERCHANT_CITY)
_TAG_RE = re.compile(r"[0-9][0-9]")
_DIGITS_RE = re.compile(r"[0-9]+")
_AMOUNT_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_LANG_RE = re.compile(r"[A-Za-z]{2}")
_HEX4_RE = re.compile(r"[0-9A-Fa-f]{4}")

#: A value to encode: a primitive string, or the nested data objects of a template.
Value: TypeAlias = "str | Mapping[str, Value] | Sequence[tuple[str, Value]]"


class EmvError(InvalidInput):
    """A payload cannot be built from the given fields (the message names the field)."""


# --------------------------------------------------------------------------------------------
# CRC and low-level TLV
# --------------------------------------------------------------------------------------------

def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR).

    Parameters
    ----------
    data
        The bytes to checksum (for EMV: the UTF-8 payload up to and including ``"6304"``).

    Returns
    -------
    int
        The 16-bit checksum; ``crc16_ccitt_false(b"123456789") == 0x29B1``.
    """
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def _crc_hex(body_with_crc_header: str) -> str:
    return f"{crc16_ccitt_false(body_with_crc_header.encode('utf-8')):04X}"


@dataclass(frozen=True)
class TLV:
    """One data object of the raw tree: ID, value and, for templates, the nested objects.

    Attributes
    ----------
    tag
        Two-digit ID.
    value
        The value exactly as it appears in the payload.
    children
        Nested data objects when ``tag`` is a template that parsed as TLV, else ``None``.
    """

    tag: str
    value: str
    children: tuple[TLV, ...] | None = None

    @property
    def length(self) -> int:
        """Length of the value in characters."""
        return len(self.value)

    def child(self, tag: str) -> str | None:
        """Return the value of the first nested object with ``tag`` (``None`` if absent)."""
        for item in self.children or ():
            if item.tag == tag:
                return item.value
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{tag, length, value}`` plus ``children`` for templates."""
        out: dict[str, Any] = {"tag": self.tag, "length": self.length, "value": self.value}
        if self.children is not None:
            out["children"] = [c.to_dict() for c in self.children]
        return out


def _items(elements: Mapping[str, Value] | Iterable[tuple[str, Value]]) -> list[tuple[str, Any]]:
    if isinstance(elements, Mapping):
        return list(elements.items())
    return list(elements)


def encode_tlv(elements: Mapping[str, Value] | Iterable[tuple[str, Value]],
               *, path: str = "") -> str:
    """Serialise data objects (recursively for templates) without adding a CRC.

    Parameters
    ----------
    elements
        ``(id, value)`` pairs in payload order, or a mapping; a value that is itself a mapping
        or a sequence of pairs is encoded as a template.
    path
        Prefix used in error messages (e.g. ``"26."``).

    Returns
    -------
    str
        The concatenated ``ID + LL + value`` strings.

    Raises
    ------
    EmvError
        An ID that is not two digits, a duplicate ID, or a value of 0 or more than 99 characters.
    """
    parts: list[str] = []
    seen: set[str] = set()
    for tag, value in _items(elements):
        where = f"{path}{tag}"
        if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
            raise EmvError(f"data object ID {where!r} must be two digits 00-99")
        if tag in seen:
            raise EmvError(f"data object ID {where!r} appears twice")
        seen.add(tag)
        text = value if isinstance(value, str) else encode_tlv(value, path=f"{where}.")
        if not 1 <= len(text) <= 99:
            raise EmvError(f"data object {where} has {len(text)} characters; "
                           "EMV lengths are 01-99")
        parts.append(f"{tag}{len(text):02d}{text}")
    return "".join(parts)


def encode(elements: Mapping[str, Value] | Iterable[tuple[str, Value]]) -> str:
    """Serialise a full MPM payload and append the CRC (ID ``63``).

    The payload format indicator ``00`` is placed first (``"01"`` is added when absent).

    Parameters
    ----------
    elements
        Top-level data objects, without ``63``; templates as nested pairs or mappings.

    Returns
    -------
    str
        The payload, ending in ``6304`` and the upper-case CRC.

    Raises
    ------
    EmvError
        Malformed IDs or lengths (see :func:`encode_tlv`), a caller-supplied ``63``, or a
        payload over :data:`MAX_PAYLOAD_CHARS`.
    """
    items = _items(elements)
    if any(tag == ID_CRC for tag, _ in items):
        raise EmvError("data object 63 (CRC) is computed by encode(); do not pass it")
    head = [item for item in items if item[0] == ID_PAYLOAD_FORMAT] or [(ID_PAYLOAD_FORMAT, "01")]
    rest = [item for item in items if item[0] != ID_PAYLOAD_FORMAT]
    body = encode_tlv(head[:1] + rest + head[1:]) + ID_CRC + "04"
    payload = body + _crc_hex(body)
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise EmvError(f"payload has {len(payload)} characters; EMVCo allows at most "
                       f"{MAX_PAYLOAD_CHARS}")
    return payload


def _parse_tlv(text: str) -> tuple[list[TLV], str | None]:
    """Split ``text`` into data objects; return them and the first structural error, if any."""
    out: list[TLV] = []
    pos = 0
    while pos < len(text):
        head = text[pos:pos + 4]
        if len(head) < 4:
            return out, f"truncated data object at position {pos}: {head!r}"
        tag, length = head[:2], head[2:]
        if not _TAG_RE.fullmatch(tag):
            return out, f"invalid data object ID {tag!r} at position {pos}"
        if not _TAG_RE.fullmatch(length):
            return out, f"invalid length {length!r} for ID {tag} at position {pos}"
        size = int(length)
        value = text[pos + 4:pos + 4 + size]
        if len(value) < size:
            return out, (f"ID {tag} at position {pos} declares {size} characters "
                         f"but only {len(value)} remain")
        out.append(TLV(tag, value))
        pos += 4 + size
    return out, None


# --------------------------------------------------------------------------------------------
# Typed inputs and results
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MerchantAccount:
    """A merchant account information template (IDs 26–51): one organisation's payment code.

    Attributes
    ----------
    guid
        Globally unique identifier of the payment system (sub-ID 00), e.g. a reverse domain
        name or an AID; 1–32 characters.
    merchant_id
        The merchant's identifier in that system (sub-ID 01).
    extra
        Further sub-IDs (``"02"``–``"99"``) of the template, e.g. a terminal or acquirer id.
    tag
        Template ID to use (``"26"``–``"51"``); ``None`` lets the builder choose.
    """

    guid: str
    merchant_id: str
    extra: Mapping[str, str] = field(default_factory=dict)
    tag: str | None = None

    def template(self) -> list[tuple[str, str]]:
        """Nested data objects of the template, sub-IDs ascending after 00 and 01."""
        return [("00", self.guid), ("01", self.merchant_id), *sorted(self.extra.items())]


@dataclass(frozen=True)
class AccountEntry:
    """A merchant account found in a payload (primitive 02–25 or template 26–51).

    Attributes
    ----------
    tag
        The data object ID.
    guid
        Sub-ID 00 of a template; ``None`` for primitive accounts.
    merchant_id
        Sub-ID 01 of a template, or the whole value of a primitive account.
    network
        Card network owning a primitive ID (``"Visa"``, ``"UnionPay"``...), else ``None``.
    fields
        All nested sub-IDs of a template and their values.
    """

    tag: str
    guid: str | None
    merchant_id: str | None
    network: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{tag, guid, merchant_id, network, fields}``."""
        return {"tag": self.tag, "guid": self.guid, "merchant_id": self.merchant_id,
                "network": self.network, "fields": dict(self.fields)}


@dataclass(frozen=True)
class LanguageTemplate:
    """Merchant information in an alternate language (template 64)."""

    language_preference: str | None
    merchant_name: str | None
    merchant_city: str | None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"language_preference": self.language_preference,
                "merchant_name": self.merchant_name, "merchant_city": self.merchant_city}


@dataclass(frozen=True)
class ParseResult:
    """What :func:`decode` found in a payload.

    Attributes
    ----------
    valid
        Well-formed TLV and a correct CRC as the last data object.
    conformant
        ``valid`` and no warnings: every EMVCo rule checked here holds.
    errors, warnings
        Human-readable problems; ``errors`` is empty exactly when ``valid``.
    tlv
        The raw tree of data objects (templates with their ``children``).
    """

    valid: bool
    conformant: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    merchant_name: str | None = None
    merchant_city: str | None = None
    country_code: str | None = None
    currency: str | None = None
    mcc: str | None = None
    amount: str | None = None
    merchant_accounts: tuple[AccountEntry, ...] = ()
    language: LanguageTemplate | None = None
    postal_code: str | None = None
    point_of_initiation: str | None = None
    additional_data: Mapping[str, str] = field(default_factory=dict)
    unreserved_templates: tuple[AccountEntry, ...] = ()
    crc: str | None = None
    tlv: tuple[TLV, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``paver qr parse`` output)."""
        return {
            "valid": self.valid,
            "conformant": self.conformant,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "merchant_name": self.merchant_name,
            "merchant_city": self.merchant_city,
            "country_code": self.country_code,
            "currency": self.currency,
            "mcc": self.mcc,
            "amount": self.amount,
            "merchant_accounts": [a.to_dict() for a in self.merchant_accounts],
            "language": self.language.to_dict() if self.language else None,
            "postal_code": self.postal_code,
            "point_of_initiation": self.point_of_initiation,
            "additional_data": dict(self.additional_data),
            "unreserved_templates": [a.to_dict() for a in self.unreserved_templates],
            "crc": self.crc,
            "tlv": [t.to_dict() for t in self.tlv],
        }


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

def _is_common_charset(text: str) -> bool:
    """EMVCo "ans": the common character set, printable ASCII 0x20–0x7E."""
    return all(" " <= ch <= "~" for ch in text)


def _check_len(warnings: list[str], where: str, value: str | None, max_len: int,
               exact: bool = False) -> None:
    if value is None:
        return
    if exact and len(value) != max_len:
        warnings.append(f"{where} must have exactly {max_len} characters, has {len(value)}")
    elif not exact and len(value) > max_len:
        warnings.append(f"{where} has {len(value)} characters, at most {max_len} allowed")


def _template(tag: str, value: str, warnings: list[str]) -> TLV:
    children, problem = _parse_tlv(value)
    if problem is not None:
        warnings.append(f"template {tag} is not well-formed: {problem}")
        return TLV(tag, value, None)
    _check_siblings(children, warnings, tag)
    return TLV(tag, value, tuple(children))


def _check_siblings(nodes: list[TLV], warnings: list[str], parent: str | None = None) -> None:
    """Warn of a data object repeated or empty among ``nodes`` (the top level, or the
    sub-IDs of template ``parent``)."""
    seen: set[str] = set()
    for node in nodes:
        if node.tag in seen:
            warnings.append(f"template {parent} repeats sub-ID {node.tag}" if parent
                            else f"data object {node.tag} appears more than once")
        seen.add(node.tag)
        if node.length == 0:
            warnings.append(f"data object {parent}.{node.tag} is empty" if parent
                            else f"data object {node.tag} is empty")


def _account_from_template(node: TLV, warnings: list[str]) -> AccountEntry:
    fields = {c.tag: c.value for c in node.children or ()}
    guid = fields.get("00")
    if node.children is not None:
        if guid is None:
            warnings.append(f"template {node.tag} has no GUID (sub-ID 00)")
        else:
            _check_len(warnings, f"GUID {node.tag}.00", guid, MAX_GUID_CHARS)
    return AccountEntry(tag=node.tag, guid=guid, merchant_id=fields.get("01"), fields=fields)


def decode(payload: str) -> ParseResult:
    """Parse an MPM payload; never raises.

    Parameters
    ----------
    payload
        The text read from the QR code.

    Returns
    -------
    ParseResult
        Fields, accounts, the raw TLV tree and the ``valid``/``conformant`` verdicts.
    """
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(payload, str):
        return ParseResult(False, False, ("payload must be text",), ())
    top, problem = _parse_tlv(payload)
    if problem is not None:
        errors.append(problem)
    if not payload:
        errors.append("empty payload")

    # CRC: must be the last data object, length 04, over the UTF-8 bytes up to and incl. 6304.
    crc_value: str | None = None
    crc_nodes = [n for n in top if n.tag == ID_CRC]
    if not crc_nodes:
        if problem is None and payload:
            errors.append("missing CRC (data object 63)")
    elif top[-1].tag != ID_CRC or len(crc_nodes) > 1:
        errors.append("CRC (data object 63) must be the last data object and appear once")
    elif problem is None:
        crc_value = top[-1].value
        if len(crc_value) != 4 or not _HEX4_RE.fullmatch(crc_value):
            errors.append(f"CRC value {crc_value!r} is not four hex digits")
        else:
            expected = _crc_hex(payload[:-4])
            if crc_value.upper() != expected:
                errors.append(f"CRC mismatch: payload says {crc_value}, computed {expected}")
            elif crc_value != expected:
                warnings.append(f"CRC {crc_value} is lower-case hex; EMVCo uses upper-case")

    nodes: list[TLV] = []
    values: dict[str, str] = {}
    _check_siblings(top, warnings)
    for node in top:
        parsed = _template(node.tag, node.value, warnings) if node.tag in TEMPLATE_TAGS else node
        nodes.append(parsed)
        values.setdefault(node.tag, node.value)

    accounts: list[AccountEntry] = []
    unreserved: list[AccountEntry] = []
    additional: dict[str, str] = {}
    language: LanguageTemplate | None = None
    for node in nodes:
        tag = node.tag
        if tag in MAI_PRIMITIVE_TAGS:
            accounts.append(AccountEntry(tag, None, node.value, PRIMITIVE_NETWORKS[tag]))
        elif tag in MAI_TEMPLATE_TAGS:
            accounts.append(_account_from_template(node, warnings))
        elif tag in UNRESERVED_TAGS:
            unreserved.append(_account_from_template(node, warnings))
        elif tag == ID_ADDITIONAL_DATA and node.children is not None:
            for child in node.children:
                name = ADDITIONAL_DATA_FIELDS.get(child.tag, child.tag)
                additional.setdefault(name, child.value)
                limit = 3 if child.tag == "09" else 25 if child.tag in ADDITIONAL_DATA_FIELDS \
                    else 99
                _check_len(warnings, f"additional data 62.{child.tag}", child.value, limit)
                if child.tag in ADDITIONAL_DATA_FIELDS and not _is_common_charset(child.value):
                    warnings.append(f"additional data 62.{child.tag} has characters outside "
                                    "the EMVCo common character set")
            request = node.child("09")
            if request is not None and (set(request) - set("AME")):
                warnings.append("additional data 62.09 may only contain A, M and E")
        elif tag == ID_LANGUAGE and node.children is not None:
            language = LanguageTemplate(node.child("00"), node.child("01"), node.child("02"))
            if language.language_preference is None or language.merchant_name is None:
                warnings.append("language template 64 needs sub-IDs 00 (language) and 01 "
                                "(merchant name)")
            if language.language_preference is not None and not _LANG_RE.fullmatch(
                    language.language_preference):
                warnings.append("language preference 64.00 must be two ISO 639 letters")
            _check_len(warnings, "alternate merchant name 64.01", language.merchant_name, 25)
            _check_len(warnings, "alternate merchant city 64.02", language.merchant_city, 15)
        elif tag in RFU_TAGS:
            warnings.append(f"data object {tag} is reserved for future use by EMVCo")

    _conformance(payload, top, values, accounts, warnings)
    valid = not errors
    return ParseResult(
        valid=valid,
        conformant=valid and not warnings,
        errors=tuple(errors),
        warnings=tuple(warnings),
        merchant_name=values.get(ID_MERCHANT_NAME),
        merchant_city=values.get(ID_MERCHANT_CITY),
        country_code=values.get(ID_COUNTRY),
        currency=values.get(ID_CURRENCY),
        mcc=values.get(ID_MCC),
        amount=values.get(ID_AMOUNT),
        merchant_accounts=tuple(accounts),
        language=language,
        postal_code=values.get(ID_POSTAL_CODE),
        point_of_initiation=values.get(ID_POINT_OF_INITIATION),
        additional_data=additional,
        unreserved_templates=tuple(unreserved),
        crc=crc_value,
        tlv=tuple(nodes),
    )


def _conformance(payload: str, top: Sequence[TLV], values: Mapping[str, str],
                 accounts: Sequence[AccountEntry], warnings: list[str]) -> None:
    """Append a warning for each EMVCo rule the top-level data objects break."""
    for tag in _MANDATORY:
        if tag not in values:
            warnings.append(f"mandatory data object {tag} is missing")
    if not accounts:
        warnings.append("no merchant account information (one of IDs 02-51 is mandatory)")
    if top and top[0].tag != ID_PAYLOAD_FORMAT:
        warnings.append("payload format indicator (00) must be the first data object")
    if values.get(ID_PAYLOAD_FORMAT, "01") != "01":
        warnings.append(f"payload format indicator is {values[ID_PAYLOAD_FORMAT]!r}, "
                        "expected '01'")
    poi = values.get(ID_POINT_OF_INITIATION)
    if poi is not None and poi not in (POI_STATIC, POI_DYNAMIC):
        warnings.append(f"point of initiation method (01) is {poi!r}, expected '11' or '12'")
    for tag, size in ((ID_MCC, 4), (ID_CURRENCY, 3)):
        value = values.get(tag)
        if value is not None and (len(value) != size or not _DIGITS_RE.fullmatch(value)):
            warnings.append(f"data object {tag} must be {size} digits, got {value!r}")
    amount = values.get(ID_AMOUNT)
    if amount is not None and (len(amount) > 13 or not _AMOUNT_RE.fullmatch(amount)):
        warnings.append(f"transaction amount (54) {amount!r} must be at most 13 characters "
                        "of digits with an optional decimal point")
    tip = values.get(ID_TIP_INDICATOR)
    if tip is not None and tip not in ("01", "02", "03"):
        warnings.append(f"tip or convenience indicator (55) {tip!r} must be 01, 02 or 03")
    if (tip == "02") != (ID_FEE_FIXED in values):
        warnings.append("convenience fee fixed (56) is present exactly when 55 is '02'")
    if (tip == "03") != (ID_FEE_PERCENT in values):
        warnings.append("convenience fee percentage (57) is present exactly when 55 is '03'")
    country = values.get(ID_COUNTRY)
    if country is not None and not _COUNTRY_RE.fullmatch(country):
        warnings.append(f"country code (58) {country!r} must be two upper-case letters")
    _check_len(warnings, "merchant name (59)", values.get(ID_MERCHANT_NAME), 25)
    _check_len(warnings, "merchant city (60)", values.get(ID_MERCHANT_CITY), 15)
    _check_len(warnings, "postal code (61)", values.get(ID_POSTAL_CODE), 10)
    for tag in (ID_MERCHANT_NAME, ID_MERCHANT_CITY, ID_POSTAL_CODE):
        value = values.get(tag)
        if value is not None and not _is_common_charset(value):
            warnings.append(f"data object {tag} has characters outside the EMVCo common "
                            "character set (put local-language names in template 64)")
    if len(payload) > MAX_PAYLOAD_CHARS:
        warnings.append(f"payload has {len(payload)} characters, at most "
                        f"{MAX_PAYLOAD_CHARS} allowed")


# --------------------------------------------------------------------------------------------
# Aggregated code
# --------------------------------------------------------------------------------------------

def _require(name: str, value: str | None, max_len: int, *, ascii_only: bool = True,
             pattern: re.Pattern[str] | None = None, hint: str = "") -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise EmvError(f"{name} must be a non-empty string")
    if len(value) > max_len:
        raise EmvError(f"{name} has {len(value)} characters; at most {max_len} allowed"
                       f"{hint}")
    if ascii_only and not _is_common_charset(value):
        raise EmvError(f"{name} {value!r} must use printable ASCII only"
                       " (pass Chinese names as name_zh / city_zh)")
    if pattern is not None and not pattern.fullmatch(value):
        raise EmvError(f"{name} {value!r} has the wrong format")


def _check_account(role: str, account: MerchantAccount) -> None:
    if not isinstance(account, MerchantAccount):
        raise EmvError(f"{role} must be a MerchantAccount")
    _require(f"{role}.guid", account.guid, MAX_GUID_CHARS)
    _require(f"{role}.merchant_id", account.merchant_id, 99)
    if account.tag is not None and account.tag not in MAI_TEMPLATE_TAGS:
        raise EmvError(f"{role}.tag {account.tag!r} must be a template ID 26-51")
    for sub, value in account.extra.items():
        if not _TAG_RE.fullmatch(sub) or sub in ("00", "01"):
            raise EmvError(f"{role}.extra sub-ID {sub!r} must be two digits 02-99")
        _require(f"{role}.extra[{sub}]", value, 99)


def build_aggregated_code(
    platform: MerchantAccount,
    partner: MerchantAccount,
    merchant_name: str,
    merchant_city: str,
    mcc: str,
    currency: str = "156",
    country: str = "CN",
    postal_code: str | None = None,
    store_label: str | None = None,
    terminal_label: str | None = None,
    campaign_ref: str | None = None,
    name_zh: str | None = None,
    city_zh: str | None = None,
) -> str:
    """Build the aggregated code: platform and partner templates in one static MPM payload.

    Parameters
    ----------
    platform, partner
        The two merchant account templates; they need different GUIDs. Without an explicit
        ``tag`` the platform gets ID 26 and the partner the next free ID.
    merchant_name
        ASCII (romanised) name for ID 59, at most 25 characters.
    merchant_city
        ASCII city for ID 60, at most 15 characters.
    mcc
        ISO 18245 merchant category code, four digits.
    currency, country
        ISO 4217 numeric currency (``"156"`` = CNY) and ISO 3166 alpha-2 country.
    postal_code
        Optional ID 61, at most 10 characters.
    store_label, terminal_label, campaign_ref
        Additional data (62) sub-IDs 03, 07 and 05 (reference label), each at most 25.
    name_zh, city_zh
        Chinese name (≤ 25) and city (≤ 15) for the language template 64 (language ``ZH``).

    Returns
    -------
    str
        The payload with its CRC; it always decodes as ``valid`` and ``conformant``.

    Raises
    ------
    EmvError
        A field is missing, too long, of the wrong format or not ASCII where EMVCo needs it;
        the message names the field.
    """
    required = {"merchant_name": merchant_name, "merchant_city": merchant_city, "mcc": mcc,
                "currency": currency, "country": country}
    for name, value in required.items():
        if value is None:
            raise EmvError(f"{name} is required")
    _check_account("platform", platform)
    _check_account("partner", partner)
    if platform.guid.casefold() == partner.guid.casefold():
        raise EmvError("platform and partner must have different GUIDs")
    _require("merchant_name", merchant_name, 25, hint=" (EMVCo ID 59)")
    _require("merchant_city", merchant_city, 15, hint=" (EMVCo ID 60)")
    _require("mcc", mcc, 4, pattern=re.compile(r"[0-9]{4}"))
    _require("currency", currency, 3, pattern=re.compile(r"[0-9]{3}"))
    _require("country", country, 2, pattern=_COUNTRY_RE)
    _require("postal_code", postal_code, 10)
    _require("store_label", store_label, 25)
    _require("terminal_label", terminal_label, 25)
    _require("campaign_ref", campaign_ref, 25)
    _require("name_zh", name_zh, 25, ascii_only=False)
    _require("city_zh", city_zh, 15, ascii_only=False)
    if city_zh is not None and name_zh is None:
        raise EmvError("city_zh needs name_zh (language template 64 requires the name)")

    platform_tag = platform.tag or "26"
    partner_tag = partner.tag or next(
        f"{i:02d}" for i in range(26, 52) if f"{i:02d}" != platform_tag)
    if platform_tag == partner_tag:
        raise EmvError(f"platform and partner both use template ID {platform_tag}")

    elements: list[tuple[str, Value]] = [
        (ID_PAYLOAD_FORMAT, "01"),
        (ID_POINT_OF_INITIATION, POI_STATIC),
        *sorted([(platform_tag, platform.template()), (partner_tag, partner.template())]),
        (ID_MCC, mcc),
        (ID_CURRENCY, currency),
        (ID_COUNTRY, country),
        (ID_MERCHANT_NAME, merchant_name),
        (ID_MERCHANT_CITY, merchant_city),
    ]
    if postal_code is not None:
        elements.append((ID_POSTAL_CODE, postal_code))
    additional = [(sub, value) for sub, value in
                  (("03", store_label), ("05", campaign_ref), ("07", terminal_label))
                  if value is not None]
    if additional:
        elements.append((ID_ADDITIONAL_DATA, additional))
    if name_zh is not None:
        language = [("00", "ZH"), ("01", name_zh)]
        if city_zh is not None:
            language.append(("02", city_zh))
        elements.append((ID_LANGUAGE, language))
    return encode(elements)


def contains_merchant_account(payload: str, merchant_id: str, guid: str | None = None) -> bool:
    """Whether a valid payload carries ``merchant_id`` in a merchant account template.

    Parameters
    ----------
    payload
        The payload (e.g. read from the merchant's installed code).
    merchant_id
        The merchant's id in the partner's system (template sub-ID 01).
    guid
        When given, the template's GUID must match too (case-insensitive).

    Returns
    -------
    bool
        ``False`` for an invalid payload (bad TLV or CRC) or when no template matches.
    """
    result = decode(payload)
    if not result.valid:
        return False
    return any(
        account.guid is not None and account.merchant_id == merchant_id
        and (guid is None or account.guid.casefold() == guid.casefold())
        for account in result.merchant_accounts
    )
