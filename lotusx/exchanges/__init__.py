"""Venue declarations. Each subpackage declares one venue; ``lotusx.connect`` finds them by name."""
