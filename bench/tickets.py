"""The ticket every bench job carries: a typical kitchen ticket (the one the README shows)."""

from __future__ import annotations

from typing import Any

KITCHEN_TICKET: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": "COCINA", "align": "center", "size": "double", "bold": True},
        {"type": "text", "text": "Mesa 12 · Pedido #1042", "align": "center"},
        {"type": "text", "text": "PARA LLEVAR", "align": "center", "size": "wide"},
        {"type": "rule", "char": "="},
        {"type": "row", "left": "2x Hamburguesa completa", "right": "19.00"},
        {"type": "text", "text": "   + sin cebolla, extra de queso"},
        {"type": "row", "left": "1x Ramen 拉面", "right": "12.50"},
        {
            "type": "row",
            "left": "1x Tostada de jamón ibérico con tomate y aceite de oliva",
            "right": "9.00",
        },
        {"type": "row", "left": "1x Crème brûlée", "right": "6.50"},
        {"type": "rule", "char": "-"},
        {"type": "row", "left": "TOTAL", "right": "47.00 €"},
        {"type": "text", "text": "¡Alergia a los frutos secos!", "bold": True, "underline": True},
        {"type": "feed", "lines": 1},
        {"type": "qr", "data": "https://example.com/o/1042"},
        {"type": "cut", "mode": "partial"},
    ]
}


def without_qr(document: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": [b for b in document["blocks"] if b["type"] != "qr"]}
