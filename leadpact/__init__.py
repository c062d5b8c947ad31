"""The shell: the app factory, the CLI, the admin pages, the widget backend, runtime, scheduler and demo.

It wires the layers below together and nothing imports it (see `.importlinter`).
"""
