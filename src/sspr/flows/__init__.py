"""Self-service flows: the one place where plan, policy, methods and directories combine."""
