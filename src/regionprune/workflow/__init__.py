"""The machinery that runs the science as a Snakemake workflow: the settings models and the
config built from them (``settings``, ``config``; ``derived`` writes the schema, config.yaml and
the configuration docs), one job module per rule (``jobs``), the warm job server, the folder
lock, fail points, code versions, ``check`` and ``report``, the labels, tables, markdown and
figures of the report. It may import the core and io; they never import it."""
