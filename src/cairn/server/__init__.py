"""The HTTP service: cairn's JSON API, its OpenAI-compatible endpoint and the web UI.

    from cairn.server.app import create_app
    app = create_app(settings)        # uvicorn.run(app) or `cairn serve`

One module per route group under `cairn.server.routes`; dependencies (state, caller,
scopes) in `cairn.server.deps`; API keys in `cairn.server.keys` (importable without
FastAPI, for `cairn keys`). See docs/api.md.
"""
