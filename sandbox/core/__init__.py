"""Machinery shared by both twins (nothing vendor-specific lives here)."""
