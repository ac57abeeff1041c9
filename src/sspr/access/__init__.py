"""Conditional access for security info: named locations, policies, Temporary Access Passes."""
