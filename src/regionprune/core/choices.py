"""The named choices of the region method: the values its settings may take.

They live in this small module, apart from the code that implements them (``carving``,
``regions``), so that the settings, and with them every job's code version, do not depend on that
code: a change to how regions are labelled reruns the jobs that label, not the baseline.
"""

#: How a fraction is taken: of all neurons' regions (or weights) together (``global``, the
#: paper), or of every neuron's own (``per_neuron``).
SCOPES = ("global", "per_neuron")
#: Pixel neighbourhoods a region is connected by: edges only (4) or edges and corners (8).
CONNECTIVITIES = (4, 8)
