"""Stock keeping for a small shop: what we hold, what it is worth, what to reorder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Item:
    """One product line: how many units we hold and what one unit costs."""

    name: str
    quantity: int
    unit_price: float


def add_item(stock: dict[str, Item], name: str, quantity: int, unit_price: float) -> Item:
    """Add a new product line; refuse duplicates and negative numbers."""
    if name in stock:
        raise ValueError(f"{name!r} is already in stock; use restock() instead")
    if quantity < 0 or unit_price < 0:
        raise ValueError("quantity and unit_price must not be negative")
    stock[name] = Item(name, quantity, unit_price)
    return stock[name]


def remove_item(stock: dict[str, Item], name: str, quantity: int) -> int:
    """Take `quantity` units out of stock and return how many are left."""
    item = stock[name]
    if quantity > item.quantity:
        raise ValueError(f"only {item.quantity} of {name!r} left, cannot remove {quantity}")
    item.quantity -= quantity
    return item.quantity


def restock(stock: dict[str, Item], name: str, quantity: int) -> int:
    item = stock[name]
    item.quantity += quantity
    return item.quantity


def total_value(stock: dict[str, Item]) -> float:
    """The value of everything we hold, at unit price."""
    return sum(item.quantity * item.unit_price for item in stock.values())


def low_stock(stock: dict[str, Item], threshold: int) -> list[str]:
    """Names of the items at or below `threshold` units, sorted, so they can be reordered."""
    return sorted(name for name, item in stock.items() if item.quantity < threshold)
