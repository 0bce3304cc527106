"""The order-to-cash pipeline: which job follows which event, what each job does, and the hub's own hook implementations."""
