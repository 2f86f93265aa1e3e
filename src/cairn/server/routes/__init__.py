"""One module per route group; `cairn.server.app` includes their routers."""
