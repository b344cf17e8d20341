"""One module per workflow rule: ``add_arguments(parser)`` and ``run(args)``.

Job modules import heavy libraries (torch, matplotlib) inside ``run`` only, so that the command
line parses fast and rules that do not train never pay for importing torch.
"""
