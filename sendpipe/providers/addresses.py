"""Small address helpers shared by adapters: display-name parsing and phone number spellings.

Providers disagree on how to write the same address (``"Acme <a@x>"`` vs
``{"name", "email"}``; ``+2547…`` vs ``2547…`` vs ``whatsapp:+2547…``).
"""

from __future__ import annotations

import email.utils
from functools import lru_cache


@lru_cache(maxsize=1024)
def split_address(value: str) -> tuple[str | None, str]:
    """``"Acme <noreply@acme.example>"`` -> ("Acme", "noreply@acme.example"); a bare address has no name."""
    name, address = email.utils.parseaddr(value)
    if not address:
        return None, value.strip()
    return (name or None), address


def digits_only(e164: str) -> str:
    """``+2349012672711`` -> ``2349012672711`` (the international format without the plus)."""
    return e164.lstrip("+")


def whatsapp_address(e164: str) -> str:
    """Twilio's WhatsApp channel address: ``whatsapp:+14155550100``."""
    return e164 if e164.startswith("whatsapp:") else f"whatsapp:{e164}"
