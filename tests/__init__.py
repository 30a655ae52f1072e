"""Porchlight test suite."""
