"""The webhook receiver (parse, authenticate, store durably, acknowledge fast) and the worker that drains the inbox."""
