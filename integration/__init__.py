"""The integration matrix: identical lilya_ws apps under every server, checked by a real client.

- ``integration.apps``: the scenario apps (one ASGI app routing by path).
- ``integration.checks``: one client-side check per scenario, with its expectation
  derived from the server's declared ``adapters.ServerCapabilities``.
- ``integration.matrix``: runs the checks (local servers or ``--target`` URLs) and
  renders the scenario-by-server table as Markdown and JSON.
- ``python -m integration``: the command line (see ``integration.__main__``).
"""
