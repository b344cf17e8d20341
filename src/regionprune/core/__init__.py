"""The science as a library: what a researcher imports without the workflow. Pure functions on
arrays and torch modules; it imports nothing from ``regionprune.io`` or ``regionprune.workflow``
(tests/test_layout.py) and owns its names and choices (``network.W1``, ``pruning.CRITERIA``,
``choices``).

- ``network``, ``model``, ``training``: the MLP of any width and depth, trained with its pruned
  weights held at zero (one network or several in lockstep);
- ``pruning``, ``regions``, ``scores``, ``carving``: masks from scores, connected regions on the
  input grid, region scores, and the steps of one region-pruning iteration;
- ``metrics``: measures of one stage; ``explain``: its decision basis and the deletion test;
- ``prune``: region pruning and carving as ``torch.nn.utils.prune`` methods for any
  ``nn.Linear`` whose inputs form an image (docs/api.md).
"""
