"""Reads: query functions used by the API, the admin and the services."""
