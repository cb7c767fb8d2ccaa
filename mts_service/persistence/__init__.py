"""Adapters to SQL (SQLAlchemy 2 Core): schema, engine, repositories, unit of work."""
