"""Test stand-in for keyrings.alt (see ../../README.md)."""
