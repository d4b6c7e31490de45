"""What people see: cards, views, message parts, private replies, formatting helpers."""
