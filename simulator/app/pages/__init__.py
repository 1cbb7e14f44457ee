"""One module per page of the app (see ``simulator.app.registry``)."""
