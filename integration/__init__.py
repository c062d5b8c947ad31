"""The adapters layer: settings, db and migrations, storage, the amoCRM client, tokens, install and provisioning.

It imports only `rules` (the domain) from LeadPact; the shell that wires it into an app lives in `leadpact/`.
"""
