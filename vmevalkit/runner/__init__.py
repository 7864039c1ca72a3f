"""Running models over tasks: catalog, registry, executors and the inference runner."""
