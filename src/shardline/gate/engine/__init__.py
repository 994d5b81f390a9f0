"""Plan primitives: each knows how to execute itself against a VCursor and how to describe itself."""
