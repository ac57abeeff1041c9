"""Verification methods: one module each, one base class (base.py), a registry (registry.py)."""
