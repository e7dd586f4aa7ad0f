"""A small independent implementation of API.md, for the tests: stdlib HTTP server, psycopg, own schema."""
