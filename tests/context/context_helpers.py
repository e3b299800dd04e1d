"""Shared data and helpers for the amigo.context tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_git(root: Path, *args: str) -> str:
    """Run git in ``root`` and return stdout (fails the test on error)."""
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
    return out.stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


SHOP = {
    "shop/models.py": '''"""Shop data."""
from dataclasses import dataclass


@dataclass
class Product:
    sku: str
    price_cents: int

    def discounted(self, percent: int) -> "Product":
        return Product(self.sku, self.price_cents * (100 - percent) // 100)


class Cart:
    def __init__(self) -> None:
        self.items: list[Product] = []

    def add(self, product: Product) -> None:
        self.items.append(product)

    def total_cents(self) -> int:
        return sum(p.price_cents for p in self.items)
''',
    "shop/pricing.py": '''from shop.models import Product


TAX_RATE = 20


def apply_tax(cents: int) -> int:
    """Add VAT."""
    return cents + cents * TAX_RATE // 100


def format_price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
''',
    "shop/checkout.py": '''from shop.models import Cart, Product
from shop.pricing import apply_tax, format_price


def receipt(cart: Cart) -> str:
    total = apply_tax(cart.total_cents())
    return "TOTAL " + format_price(total)


def quick_buy(sku: str, cents: int) -> str:
    cart = Cart()
    cart.add(Product(sku, cents))
    return receipt(cart)
''',
    "shop/unrelated.py": '''def banner(text: str) -> str:
    return "*** " + text + " ***"
''',
    ".gitignore": "ignored/\n*.log\n",
}
