"""Persistence: SQLModel tables, the database engine, migrations and the encryption vault."""
