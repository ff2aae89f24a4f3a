"""Persistence: the database object, the models and the schema migrations."""
