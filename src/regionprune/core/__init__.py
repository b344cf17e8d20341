"""The science as a library: what a researcher imports without the workflow.

``core.prune``: region pruning and carving as ``torch.nn.utils.prune`` methods for any
``nn.Linear`` whose inputs form an image (docs/api.md).
"""
