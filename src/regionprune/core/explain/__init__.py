"""The decision basis of a pruned network: what each region does for each class
(``importance``), whether the maps tell the truth (``deletion``, against random regions and
Captum's pixel attributions in ``attribution``), and the figures (``figures``)."""
