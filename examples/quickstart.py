"""The README's ten lines: make the env, reset, call tools, submit a report."""
import gymnasium as gym
import shopgym.envs  # noqa: F401  (registers shopgym/ProductResearch-v1)

env = gym.make("shopgym/ProductResearch-v1")  # default world, built into ~/.cache/shopgym on first use
obs, info = env.reset(seed=0, options={"split": "test"})
obs, reward, terminated, truncated, info = env.step('{"tool": "search_products", "arguments": {"query": "battery"}}')
product = obs["text"].splitlines()[1].split(" | ")[0][2:]
obs, reward, terminated, truncated, info = env.step({"tool": "view_product", "arguments": {"product_id": product}})
obs, reward, terminated, truncated, info = env.step({"tool": "read_reviews", "arguments": {"product_id": product}})
report = {"recommendations": [{"product_id": product, "rationale": "top hit"}], "summary": "One pick."}
obs, reward, terminated, truncated, info = env.step({"tool": "submit_report", "arguments": {"report": report}})
print(reward, info["reward_parts"])
