"""`shopgym generate`: synthesis runs over distinct tasks, in worker processes, resumable after a kill."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shopgym.chat_template import ChatTemplate
from shopgym.envs import ProductResearchEnv
from shopgym.envs.tools import tool_schema_hash
from shopgym.schema import TrajectoryRecord

from .backends import LlamaBackend, embedded_model_path, file_sha256, threads_per_worker
from .evaluate import distinct_tasks
from .runner import EngineSpec, RunConfig, RunSummary, run
from .synthesis import UserAgentKind, run_episode


class Decoding(BaseModel):
    """How the researcher decodes; the defaults are synthesis's (greedy, under the call checker)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: str | None = None  # a llama.cpp GGUF LoRA adapter applied to the model
    grammar: bool = True
    temperature: float = 0.0
    thoughts: bool = False  # a line of reasoning may open each call turn (distilled turns open with reflections)
    trials: int = Field(default=1, ge=1)  # runs per task (seeds differ), for pass^k
    user_request: bool = True  # research the User Agent's request (synthesis); False: the canonical one (evaluation)
    user_agent: UserAgentKind = "rules"  # who writes the User Agent's brief (rules, as the CLI's default)

    def options(self) -> dict:
        """Only what differs from the defaults, so runs made before an option existed still resume."""
        return self.model_dump(exclude_defaults=True)


@cache
def _worker_state(catalog: str | None, model: str | None, workers: int, adapter: str | None,
                  gpu_layers: int) -> tuple:
    """One env, one truth env (harness-only scoring of the User Agent) and one backend per worker process."""
    env = ProductResearchEnv(catalog=catalog)
    truth = ProductResearchEnv(catalog=catalog, evaluation=True)
    return env, truth, LlamaBackend(model, workers=workers, lora_path=adapter, n_gpu_layers=gpu_layers)


def synthesis_episode(config: RunConfig, index: int, task_id: str) -> TrajectoryRecord:
    options = config.options
    env, truth, backend = _worker_state(config.catalog, config.model, config.workers, options.get("adapter"),
                                        options.get("gpu_layers", 0))
    record = run_episode(env, backend, task_id, config.seed + index, mode=config.mode, truth_env=truth,
                         critique=bool(options.get("critique", False)), grammar=options.get("grammar", True),
                         temperature=options.get("temperature", 0.0), thoughts=options.get("thoughts", False),
                         user_request=options.get("user_request", True), user_agent=options.get("user_agent", "rules"))
    record.extra["episode"] = index
    return record


def generate(catalog: str | None, split: str, episodes: int, workers: int, seed: int, model: str | None, mode: str,
             out: Path, critique: bool = False, progress: bool = True,
             decoding: Decoding = Decoding(), engine: EngineSpec = EngineSpec(), gpu_layers: int = 0) -> RunSummary:
    """Episode i runs with seed `seed + i` on the (i // trials)-th of `episodes` distinct tasks of `split`, on
    `engine` (this machine's processes, or Ray actors: the same records). `gpu_layers` model layers run on a
    GPU (-1: all); GPU arithmetic changes the text, so it is part of the run's config."""
    if mode not in ("supervised", "single"):
        raise ValueError(f"unknown mode {mode!r}; valid: supervised, single")
    if decoding.adapter is not None and not Path(decoding.adapter).is_file():
        raise ValueError(f"adapter {decoding.adapter} is not a file: pass the adapter.gguf `shopgym train` wrote")
    # a resume is identified by real paths (a relative path, an absolute one and a symlink are the same run) and
    # by the content hashes of catalog, model and adapter in the manifest
    catalog = str(Path(catalog).resolve()) if catalog else None
    model = str(Path(model).resolve()) if model else None
    if decoding.adapter is not None:
        decoding = decoding.model_copy(update={"adapter": str(Path(decoding.adapter).resolve())})
    model_path = Path(model) if model else embedded_model_path()
    chat = ChatTemplate.from_gguf(model_path)  # a path that is no language model fails here, in one line
    env = ProductResearchEnv(catalog=catalog)
    try:
        tasks = [task for task in distinct_tasks(env, split, episodes, seed) for _ in range(decoding.trials)]
        catalog_hash = env.catalog.content_hash
    finally:
        env.close()
    import llama_cpp

    config = RunConfig(catalog=catalog, split=split, episodes=len(tasks), workers=workers, seed=seed, mode=mode,
                       model=str(model_path) if model else None,
                       options={"critique": critique, **decoding.options(), **({"gpu_layers": gpu_layers} if gpu_layers
                                                                               else {})})
    extra = {"catalog_hash": catalog_hash, "tool_schema_hash": tool_schema_hash(),
             "model_sha256": file_sha256(model_path), "model_file": model_path.name, "chat_format": chat.source,
             "llama_cpp_python": llama_cpp.__version__, "n_threads": threads_per_worker(workers)}
    user = "llm" if decoding.user_request and decoding.user_agent == "llm" else "rules"
    extra["roles"] = {"user": user, "researcher": "llm",  # who writes each role's turns (README: "The roles")
                      "supervisor": "none" if mode == "single" else "rules+llm-critique" if critique else "rules"}
    if decoding.adapter is not None:
        extra["adapter_sha256"] = file_sha256(Path(decoding.adapter))
    return run(config, out, synthesis_episode, tasks, extra, progress=progress, engine=engine)
