"""No DTD in a list file, whatever its encoding: the parsed document is checked, not the bytes."""

from __future__ import annotations

import pytest

from kyc.versions import RawFile
from lists.base import ParseError
from lists.un_sc import UnScAdapter
from lists.xml import parse_xml
from tests.support.env import list_file

UN = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
DOCTYPE = '<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'


def _with_dtd(encoding: str, reference: bool) -> bytes:
    text = list_file(UN).read_text(encoding="utf-8")
    declaration, rest = text.split("\n", 1)
    if reference:
        rest = rest.replace("<FIRST_NAME>", "<FIRST_NAME>&secret;", 1)
    declaration = declaration.replace('encoding="UTF-8"', f'encoding="{encoding}"')
    return f"{declaration}\n{DOCTYPE}\n{rest}".encode(encoding)


@pytest.mark.parametrize("encoding", ["UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32"])
@pytest.mark.parametrize("reference", [True, False])
def test_a_real_list_with_a_dtd_is_rejected_in_any_encoding(encoding: str, reference: bool) -> None:
    """A UTF-16 UN file with a DOCTYPE and an external entity used to be accepted (the field silently dropped)."""
    data = _with_dtd(encoding, reference)
    assert b"<!DOCTYPE" not in data  # a byte search does not see it
    with pytest.raises(ParseError, match="DOCTYPE/ENTITY declarations are not allowed"):
        UnScAdapter().parse([RawFile("un.xml", data)])


def test_the_same_file_without_a_dtd_parses_in_utf16() -> None:
    text = list_file(UN).read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    parsed = UnScAdapter().parse([RawFile("un.xml", text.encode("utf-16"))])
    original = UnScAdapter().parse([RawFile("un.xml", list_file(UN).read_bytes())])
    assert len(parsed.entries) == len(original.entries) > 500


def test_an_entity_reference_without_a_doctype_is_refused() -> None:
    with pytest.raises(ParseError):
        parse_xml("<a>&x;</a>".encode("utf-16"), "a.xml")
