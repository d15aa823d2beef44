"""All known sources. Adapters are imported lazily so that one broken optional parser never blocks the rest."""

from __future__ import annotations

import importlib
from functools import cache

from kyc.errors import NotFound
from lists.base import Adapter

_ADAPTERS: dict[str, str] = {
    "un_sc": "lists.un_sc:UnScAdapter",
    "eu_fsf": "lists.eu_fsf:EuFsfAdapter",
    "ofac_sdn": "lists.ofac:OfacSdnAdapter",
    "ofac_cons": "lists.ofac:OfacConsAdapter",
    "us_csl": "lists.us_csl:UsCslAdapter",
    "uk_ofsi": "lists.uk_ofsi:UkOfsiAdapter",
    "uk_fcdo": "lists.uk_fcdo:UkFcdoAdapter",
    "ca_sema": "lists.ca_sema:CaSemaAdapter",
    "au_dfat": "lists.au_dfat:AuDfatAdapter",
    "fi_national": "lists.fi_national:FiNationalAdapter",
    "opensanctions": "lists.opensanctions:OpenSanctionsAdapter",
    "everypolitician": "lists.everypolitician:EveryPoliticianAdapter",
}

SOURCES: tuple[str, ...] = tuple(_ADAPTERS)


class UnknownSource(NotFound, KeyError):
    def __str__(self) -> str:
        return f"unknown source {self.args[0]!r}; known: {', '.join(SOURCES)}"


@cache
def get_adapter(source: str) -> Adapter:
    target = _ADAPTERS.get(source)
    if target is None:
        raise UnknownSource(source)
    module_name, class_name = target.split(":")
    adapter: Adapter = getattr(importlib.import_module(module_name), class_name)()
    return adapter
