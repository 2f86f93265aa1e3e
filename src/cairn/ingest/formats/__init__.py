"""One reader per source format; `cairn.ingest.readers.read_document` picks between them."""
