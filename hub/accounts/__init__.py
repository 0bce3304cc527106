"""People who sign in, API tokens, and sign-in throttling."""
