"""After delivery: the satisfaction check, review requests and the customer's opt-out (issue 23)."""
