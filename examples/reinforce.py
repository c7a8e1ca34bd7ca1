"""REINFORCE (numpy, linear softmax policy) on the ToolMenu wrapper, against a random menu policy.

    python examples/reinforce.py --episodes 2000 --seeds 0 1 2 --plot docs/rl_learning_curve.png

Prints the mean reward over the last 10% of training per seed, the random policy's mean on the same
wrapper, and a 95% confidence interval of the difference over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from shopgym.envs import ProductResearchEnv
from shopgym.envs.rl import ToolMenu


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def run(env: ToolMenu, weights: np.ndarray | None, rng: np.random.Generator, seed: int) -> tuple[float, list]:
    """One episode; a uniform policy when `weights` is None. Returns the reward and (features, action, probs)."""
    features, _ = env.reset(seed=seed)
    steps, done, reward = [], False, 0.0
    while not done:
        x = np.append(features, 1.0)
        probs = np.full(env.action_space.n, 1 / env.action_space.n) if weights is None else softmax(weights @ x)
        action = int(rng.choice(len(probs), p=probs))
        steps.append((x, action, probs))
        features, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return float(reward), steps


def train(catalog: str | None, episodes: int, seed: int, lr: float = 0.2) -> dict:
    env = ToolMenu(ProductResearchEnv(catalog=catalog, split="train"))
    rng = np.random.default_rng(seed)
    weights = np.zeros((env.action_space.n, env.observation_space.shape[0] + 1))
    baseline, curve = 0.0, []
    for episode in range(episodes):
        reward, steps = run(env, weights, rng, seed * 100_000 + episode)
        advantage = reward - baseline
        baseline += 0.05 * (reward - baseline)
        for x, action, probs in steps:
            grad = -probs[:, None] * x[None, :]
            grad[action] += x
            weights += lr * advantage * grad / len(steps)
        curve.append(reward)
    random_rewards = [run(env, None, rng, 10**7 + seed * 1000 + k)[0] for k in range(max(50, episodes // 10))]
    env.close()
    tail = curve[-max(1, episodes // 10):]
    return {"seed": seed, "curve": curve, "last10_mean": float(np.mean(tail)), "random_mean": float(np.mean(random_rewards))}


def summarize(results: list[dict]) -> dict:
    gains = np.array([r["last10_mean"] - r["random_mean"] for r in results])
    half = 1.96 * gains.std(ddof=1) / math.sqrt(len(gains)) if len(gains) > 1 else 0.0
    return {"gain_mean": float(gains.mean()), "gain_ci95": [float(gains.mean() - half), float(gains.mean() + half)],
            "per_seed": [{k: v for k, v in r.items() if k != "curve"} for r in results]}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        curve = np.convolve(r["curve"], np.ones(25) / 25, mode="valid")
        ax.plot(curve, label=f"REINFORCE seed {r['seed']}")
    ax.axhline(np.mean([r["random_mean"] for r in results]), color="grey", linestyle="--", label="random menu policy")
    ax.set_xlabel("episode")
    ax.set_ylabel("episode reward (moving average of 25)")
    ax.set_title("REINFORCE on the ToolMenu wrapper")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="catalog folder (default: the cached default world)")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    results = [train(args.catalog, args.episodes, s) for s in args.seeds]
    if args.plot:
        plot(results, args.plot)
    print(json.dumps(summarize(results), indent=2))


if __name__ == "__main__":
    main()
