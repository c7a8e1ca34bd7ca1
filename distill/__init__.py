"""Distillation: filter synthesis runs and internalize the reviewer's corrections into single-role examples."""
