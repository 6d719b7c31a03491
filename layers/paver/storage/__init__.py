"""Storage: PynamoDB models (the one definition of every table) and resource bootstrap."""
