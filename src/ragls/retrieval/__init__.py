"""Repository-level retrieval: candidate sources, fusion and packing into a token budget."""
