"""Scoring finished generations: the scorer contract, builtin scorers, and running them over an experiment."""
