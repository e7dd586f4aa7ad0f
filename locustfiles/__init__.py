"""Locust users, shapes and race drivers for loadgate; they speak HTTP only (API.md)."""
