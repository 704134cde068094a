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


# Issue 20's ticket: three dishes that print as pictures of their lines (CJK, Arabic, Thai).
SCRIPTS_TICKET: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": "MESA 4", "align": "center", "size": "double", "bold": True},
        {"type": "rule"},
        {"type": "row", "left": "2x 宫保鸡丁", "right": "24.00"},
        {"type": "row", "left": "1x شاورما دجاج", "right": "8.50"},
        {"type": "row", "left": "1x ต้มยำกุ้ง", "right": "9.00"},
        {"type": "rule"},
        {"type": "text", "text": "Sin cacahuetes", "bold": True},
        {"type": "cut"},
    ]
}


def fresh_scripts_ticket(iteration: int) -> dict[str, Any]:
    """The scripts ticket with dishes no earlier iteration had: nothing comes from the caches."""
    han = "".join(chr(0x4E00 + (iteration * 4 + i) % 20000) for i in range(4))
    return {
        "blocks": [
            {"type": "row", "left": f"2x {han}", "right": "24.00"},
            {"type": "row", "left": f"1x شاورما {iteration}", "right": "8.50"},
            {"type": "row", "left": f"1x ต้มยำกุ้ง {iteration}", "right": "9.00"},
        ]
    }
