"""Ten lines: make the env, reset, call tools, submit a report."""
import gymnasium as gym
import shopgym.envs  # registers shopgym/ProductResearch-v0

env = gym.make("shopgym/ProductResearch-v0")  # builds the default world into the user cache on first use
obs, info = env.reset(seed=0)
print(obs["text"])
obs, reward, terminated, truncated, info = env.step('{"tool": "search_products", "arguments": {"query": "battery"}}')
product = obs["text"].splitlines()[1].split(" | ")[0][2:]
obs, reward, terminated, truncated, info = env.step({"tool": "view_product", "arguments": {"product_id": product}})
obs, reward, terminated, truncated, info = env.step({"tool": "submit_report", "arguments": {"report": {
    "recommendations": [{"product_id": product, "rationale": "first hit"}]}}})
print(reward, info["reward_parts"])
