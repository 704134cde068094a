"""Documents shared by the renderer tests: a kitchen ticket and a customer receipt."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from bench.tickets import SCRIPTS_TICKET as BENCH_SCRIPTS_TICKET


def png_base64(rows: list[str]) -> str:
    """A black-and-white PNG drawn as text rows: '#' black, anything else white."""
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char == "#":
                image.putpixel((x, y), 0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


LOGO_ROWS = [
    "################",
    "#..............#",
    "#..##......##..#",
    "#..............#",
    "#...########...#",
    "################",
]

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

RECEIPT: dict[str, Any] = {
    "blocks": [
        {"type": "image", "png_base64": png_base64(LOGO_ROWS)},
        {"type": "text", "text": "CAFÉ DEL MAR", "align": "center", "size": "double", "bold": True},
        {"type": "text", "text": "Passeig Marítim 12\nBarcelona", "align": "center"},
        {"type": "text", "text": "Factura simplificada", "size": "tall", "underline": True},
        {"type": "rule", "char": "="},
        {"type": "row", "left": "2x Café con leche", "right": "5.00"},
        {"type": "row", "left": "1x Ensaïmada", "right": "2.80"},
        {"type": "row", "left": "1x Bocadillo de tortilla española con pimientos", "right": "7.20"},
        {"type": "rule", "char": "-"},
        {"type": "row", "left": "TOTAL", "right": "15.00 €"},
        {"type": "text", "text": "Danke für Ihren Besuch", "align": "right"},
        {"type": "feed", "lines": 2},
        {"type": "barcode", "data": "400638133393", "symbology": "EAN13"},
        {"type": "barcode", "data": "T-1042", "symbology": "CODE128"},
        {"type": "qr", "data": "https://example.com/r/1042"},
        {"type": "cut", "mode": "full"},
    ]
}

# The ticket of issue 20 (none of it may print as "?"): the bench renders the same one.
SCRIPTS_TICKET = BENCH_SCRIPTS_TICKET

# One ticket a script, for the golden PNGs: a heading, styles, a row with a price, wrapping.
SCRIPT_SAMPLES: dict[str, dict[str, Any]] = {
    "chinese": {
        "blocks": [
            {"type": "text", "text": "厨房 KITCHEN", "align": "center", "size": "double"},
            {"type": "row", "left": "2x 宫保鸡丁", "right": "24.00"},
            {"type": "row", "left": "1x 麻婆豆腐（不要辣）", "right": "18.00"},  # noqa: RUF001
            {"type": "text", "text": "备注：" + "少油少盐，打包带走。" * 3},  # noqa: RUF001
            {"type": "text", "text": "ラーメン 비빔밥", "bold": True},
        ]
    },
    "arabic": {
        "blocks": [
            {"type": "text", "text": "المطبخ", "align": "center", "size": "double"},
            {"type": "row", "left": "1x شاورما دجاج", "right": "8.50"},
            {"type": "row", "left": "2x فلافل مع طحينة", "right": "6.00"},
            {"type": "text", "text": "طاولة ١٢ — بدون بصل", "align": "right", "bold": True},
        ]
    },
    "hebrew": {
        "blocks": [
            {"type": "text", "text": "מטבח", "align": "center", "size": "double"},
            {"type": "row", "left": "1x שקשוקה", "right": "42.00"},
            {"type": "row", "left": "2x פלאפל בפיתה", "right": "30.00"},
            {"type": "text", "text": "שולחן 7, בלי בצל", "align": "right", "underline": True},
        ]
    },
    "thai": {
        "blocks": [
            {"type": "text", "text": "ครัว", "align": "center", "size": "double"},
            {"type": "row", "left": "1x ต้มยำกุ้ง", "right": "120.00"},
            {"type": "row", "left": "2x ผัดไทยกุ้งสด", "right": "180.00"},
            {"type": "text", "text": "ไม่ใส่ถั่วลิสง เผ็ดน้อย", "bold": True},
        ]
    },
    "emoji": {
        "blocks": [
            {"type": "text", "text": "🍜 Noodle bar 🍜", "align": "center", "size": "double"},
            {"type": "row", "left": "1x Ramen 🌶️🌶️", "right": "12.50"},
            {"type": "row", "left": "1x Gyoza 🥟", "right": "6.00"},
            {"type": "text", "text": "Allergy: peanuts 🥜 ⚠️", "bold": True},
        ]
    },
}
