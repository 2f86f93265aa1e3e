"""Ingestion: reading source files into documents and chunks."""
