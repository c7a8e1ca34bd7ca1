"""Agents that act in the env: baselines today; llama.cpp roles and synthesis next."""
