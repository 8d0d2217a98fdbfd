def main() -> int:
    """Entry point of the `lotusx` command."""
    raise SystemExit("lotusx: no commands yet")
