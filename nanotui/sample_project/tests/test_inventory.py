"""Tests for inventory.py; run them with `python3 -m unittest discover -s tests -q`."""

import unittest

import inventory


class InventoryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.stock: dict[str, inventory.Item] = {}
        inventory.add_item(self.stock, "bolts", 10, 0.25)
        inventory.add_item(self.stock, "nuts", 3, 0.10)

    def test_add_item_refuses_duplicates(self) -> None:
        with self.assertRaises(ValueError):
            inventory.add_item(self.stock, "bolts", 1, 0.25)

    def test_remove_item_returns_what_is_left(self) -> None:
        self.assertEqual(inventory.remove_item(self.stock, "bolts", 4), 6)

    def test_remove_item_refuses_more_than_held(self) -> None:
        with self.assertRaises(ValueError):
            inventory.remove_item(self.stock, "nuts", 4)

    def test_restock_adds_units(self) -> None:
        self.assertEqual(inventory.restock(self.stock, "nuts", 7), 10)

    def test_total_value(self) -> None:
        self.assertAlmostEqual(inventory.total_value(self.stock), 2.80)

    def test_low_stock_includes_items_at_threshold(self) -> None:
        self.assertEqual(inventory.low_stock(self.stock, 3), ["nuts"])


if __name__ == "__main__":
    unittest.main()
