"""TRON energy rental platform."""
