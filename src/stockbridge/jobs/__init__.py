"""Executing recorded work: the queue (in-process now; procrastinate in scaled mode), the
inbox processor and the scheduler."""
