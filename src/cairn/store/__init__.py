"""Documents, chunks, embeddings and their indexes behind the `Store` protocol; the backend
is chosen by URL (`open_store`)."""
