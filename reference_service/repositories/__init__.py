"""SQL, and nothing else: each function runs queries through a `Session` and returns values."""
