"""The room on the network: ``agentroom serve``'s ASGI app and what it is made of.

Needs the ``server`` extra (``pip install 'agentroom[server]'``): nothing
outside this package and the commands that serve or join a room imports
Starlette, uvicorn or websockets, so the core install stays lean.
"""
