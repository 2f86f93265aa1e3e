"""A small MCP server (the SDK's FastMCP, over stdio) whose `crash` tool kills its own
process mid-call: what the agent's MCP client does when a server dies."""

import os

from mcp.server.fastmcp import FastMCP

server = FastMCP("crashy")


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


@server.tool()
def crash() -> str:
    """Exit the server process without answering."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
