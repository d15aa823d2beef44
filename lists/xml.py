"""Hardened XML parsing for list files.

Official files never need a DTD, so any DOCTYPE is refused outright: no entity expansion (billion laughs), no
external resolution (XXE), no network. The refusal is decided on the parsed document (its DOCTYPE, internal subset
and entity references), not on the raw bytes: a file in UTF-16 or another encoding hides ``<!DOCTYPE`` from a byte
search. The parser itself never loads a DTD nor resolves an entity, so parsing such a file first is harmless. lxml
is used for speed on the large files.
"""

from __future__ import annotations

from lxml import etree

from lists.base import ParseError

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_blank_text": True,
}


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse bytes into an element tree, or raise ParseError naming the file, line and reason."""
    if not data.strip():
        raise ParseError(f"{name}: the file is empty")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # the common case, refused before parsing
        raise ParseError(f"{name}: {_NO_DTD}")
    parser = etree.XMLParser(**_PARSER_OPTIONS)  # type: ignore[arg-type]
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{name}: malformed XML: {exc}") from exc
    if root is None:
        raise ParseError(f"{name}: no XML root element")
    if _declares_dtd(root):
        raise ParseError(f"{name}: {_NO_DTD}")
    return root


_NO_DTD = "DOCTYPE/ENTITY declarations are not allowed in list files"


def _declares_dtd(root: etree._Element) -> bool:
    """Whether the parsed document has a DOCTYPE, an internal DTD subset or an entity reference, in any encoding."""
    docinfo = root.getroottree().docinfo
    doctype: str = docinfo.doctype  # type: ignore[attr-defined]  # lxml has it; lxml-stubs lacks it
    if doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        return True
    return next(root.iter(etree.Entity), None) is not None


def local(tag: object) -> str:
    """Tag name without its namespace (OFAC and EU files use namespaces that changed over time)."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def child_text(element: etree._Element, tag: str) -> str | None:
    """Text of the first child named ``tag`` in any or no namespace, white space collapsed; None when blank."""
    text = element.findtext("{*}" + tag)
    if not text:
        return None
    return " ".join(text.split()) or None


def children(element: etree._Element, tag: str) -> list[etree._Element]:
    """Children named ``tag`` in any or no namespace (OFAC and EU changed their namespaces over the years)."""
    return element.findall("{*}" + tag)
