"""Returns: goods coming back, and the refund that ends them."""
