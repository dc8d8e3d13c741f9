"""Pure business logic: entities, inventory arithmetic, diffs and the cycle's plan.

Nothing in this package does I/O or imports connector, database, web or queue code.
"""
