"""``python -m clinserve_preprocess`` prints the tensors between the steps (docs/tensor-contract.md)."""

from clinserve_preprocess.contract import markdown_table

print(markdown_table())  # noqa: T201 - this module's whole job is to print the table
