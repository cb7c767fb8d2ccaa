"""The domain core: rules and state machines of MTS, in plain Python.

Nothing here imports SQLAlchemy, Spyne, lxml or signxml, and nothing does I/O.
"""
