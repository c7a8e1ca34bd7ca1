"""The loss curve as a PNG: per-step loss and its moving average."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class _Point(Protocol):
    step: int
    loss: float


def plot_loss(log: Sequence[_Point], path: Path, window: int = 10) -> None:
    steps = [entry.step for entry in log]
    losses = [entry.loss for entry in log]
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(steps, losses, color="#9ab", linewidth=1, label="step loss")
    if len(losses) >= window:
        smooth = [sum(losses[i - window + 1:i + 1]) / window for i in range(window - 1, len(losses))]
        axes.plot(steps[window - 1:], smooth, color="#136", linewidth=2, label=f"mean of {window}")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (assistant tokens)")
    axes.set_title("LoRA training loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
