"""Cases: a customer's problem with an order, worked to a resolution (issue 23)."""
