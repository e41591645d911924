"""Pure DataFrame -> DataFrame transforms."""
