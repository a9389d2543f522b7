"""The integration matrix: identical lilya_ws apps under every server, checked by a real client.

Data flows one way: row → adapter → server → app → client check → report.

- ``integration.scenarios``: the table (data): every scenario with its one expected
  outcome, and the inherent differences with each server's expected outcome and why.
- ``integration.apps``, ``integration.endpoint_apps`` (server side): the scenario apps,
  one ASGI app routing by path; ``integration.appkit``: their side channel to the client.
- ``integration.checks``, ``integration.inherent`` (client side): one check per row,
  returning what the app and the client observed; ``integration.client``: the client's
  tools; ``integration.outcomes``: the registry of checks and outcome normalisation.
- ``integration.runner``: runs the rows on local servers or ``--target`` URLs;
  ``integration.report``: the headline and tables, Markdown and JSON.
- ``integration.protocol``: what the apps and the checks agree on.
- ``python -m integration``: the command line (see ``integration.__main__``).
"""
