"""Reading and writing, apart from the science: the data sets (``data``), the results as HDF5
and Parquet (``storage``), what a damaged or misplaced file says (``damage``), and what each
result records of its origin (``provenance``). Imports the core's types and names, never the
workflow."""
