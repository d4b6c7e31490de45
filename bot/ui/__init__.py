"""What people see: cards, views, private replies and the formatting helpers they share."""
