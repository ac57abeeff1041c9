"""The breached-password check: a filter shipped with the product, and the online range lookup."""
