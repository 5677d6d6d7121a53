"""``python -m clinserve_ensemble`` prints the catalog as the README's Markdown table."""

from clinserve_ensemble.catalog import markdown_table

print(markdown_table())  # noqa: T201 - this module's whole job is to print the table
