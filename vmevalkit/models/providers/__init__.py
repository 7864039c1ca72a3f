"""One module per commercial provider: endpoints, request bodies and status values only."""
