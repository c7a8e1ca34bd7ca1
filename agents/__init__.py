"""Agents that act in the env: baselines, llama.cpp backends, the User/Research/Supervisor roles, synthesis runs."""
