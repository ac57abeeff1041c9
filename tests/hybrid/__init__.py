"""Hybrid end to end: a served opensspr, a real `sspr-agent` and a real directory."""
