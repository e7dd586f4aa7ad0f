"""Target profiles shipped with loadgate (docs/profiles.md)."""
