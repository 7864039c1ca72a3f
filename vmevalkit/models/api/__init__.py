"""The HTTP job layer shared by every commercial video API.

A provider module (``vmevalkit/models/providers/<name>.py``) only *describes*
its endpoints, request bodies and status values; submitting, retrying,
polling, rate limiting, downloading and resuming live here, once.
"""
