"""Stock: locations, levels, every movement, bulk updates, and reservations for confirmed orders."""
