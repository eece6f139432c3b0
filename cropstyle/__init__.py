"""cropstyle: learn a photographer's crop style from Lightroom / Camera Raw crops.

One namespace for the stages (each a folder at the top of the repository):
cropstyle.extractor (library → dataset, and the crop geometry), cropstyle.training, cropstyle.export,
cropstyle.web, cropstyle.samples (synthetic libraries and datasets for the demo, tests and benchmarks), and
cropstyle.cli, the command line.
"""

__version__ = "0.1.0"
