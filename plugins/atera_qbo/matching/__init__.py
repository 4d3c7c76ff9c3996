"""Matching Atera customers/products to QBO customers/items: normalize → exact → overrides → suggestions → plan →
commit (the wizard's "Done")."""
