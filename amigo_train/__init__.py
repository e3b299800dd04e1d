"""Amigo's training side: data adapters, staged SFT/DPO recipes, evaluation and export.

Importing this package must stay cheap and must not import torch: the
evaluation harness and the data tools run without the ``train`` extra.
"""
