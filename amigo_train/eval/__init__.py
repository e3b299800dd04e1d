"""Amigo's evaluation harness: benchmarks, a strict execution sandbox, reports and a promotion gate.

Nothing here imports torch: ``amigo eval`` runs without the ``train`` extra.
"""
