"""REST route handlers, grouped by the part of Discord's API they serve."""
