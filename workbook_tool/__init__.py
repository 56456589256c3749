"""wbtool: formula-driven project-expenditure performance evaluation workbooks, and their checker."""
__version__ = "0.1.0"
