"""amoCRM connectivity: settings, storage, the API client, OAuth install, provisioning, the app, the CLI, the sandbox."""
