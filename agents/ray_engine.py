"""The `ray` engine of `runner.run`: episodes as tasks on Ray actors, each holding one model and one env.

The driver (the `shopgym` process) connects to a running cluster, or starts a local Ray instance that stops
with the command. It ships the world once through Ray's object store; an actor on a machine that already
holds the world at the same path (same content hash) uses it in place, any other unpacks the shipped copy
once per machine. Model files are not shipped (they may be gigabytes): each node needs the model (and adapter)
named by the config at the same path, and an actor refuses a file whose sha256 differs from the driver's. Each
actor reserves as many CPUs as it gives llama.cpp threads. Only the driver writes the run folder, so records,
resume and manifest checks are the local engine's.

An actor that dies mid-episode (killed, out of memory, its node lost) is restarted by Ray and the driver runs
that episode again, up to `MAX_ATTEMPTS` times; an episode that raises stops the run, as on the local engine.
"""

from __future__ import annotations

import os
import socket
import sys
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopgym.envs.shipping import local_world, pack_world, world_folder, world_hash

from .backends import THREADS_VARIABLE, file_sha256, threads_per_worker
from .run_folder import RunError
from .runner import EpisodeFailed, EpisodeFn, RunConfig, episode_line, init_worker

#: how many times one episode may lose its actor before the run stops
MAX_ATTEMPTS = 3
#: seconds to wait for a cluster address to answer before giving up
CONNECT_TIMEOUT_S = 5.0
INSTALL_HINT = "pip install 'shopgym[ray]' (in a clone: pip install -e '.[ray]')"


def import_ray() -> Any:
    """The `ray` module, or a one-line error saying how to install it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline by default: no usage report leaves the machine
    try:
        import ray
    except ImportError:
        raise RunError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _probe(address: str) -> None:
    """Fail in seconds, naming the address, when nothing listens there (`ray.init` would wait much longer)."""
    client = address.startswith("ray://")
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    try:
        number = int(port) if port else (10001 if client else 6379)
    except ValueError:
        raise RunError(f"--ray-address {address!r}: expected host:port, ray://host:port or auto") from None
    try:
        socket.create_connection((host, number), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RunError(f"cannot reach a Ray cluster at {address} ({reason}); start one there with `ray start --head`, "
                       "or leave out --ray-address to run a local one") from None


class EpisodeActor:
    """One Ray actor: a process that runs episodes with its own cached env and model."""

    def __init__(self, episode_fn: EpisodeFn, config: RunConfig, threads: int, files: dict[str, str]) -> None:
        """`files`: the sha256 of each model file the config names, as the driver read it."""
        os.environ[THREADS_VARIABLE] = str(threads)  # llama.cpp threads = the CPUs Ray reserved for this actor
        self.episode_fn, self.config, self.files = episode_fn, config, files
        self.ready = False

    def run(self, item: tuple[int, str], world: tuple[str, str, list]) -> tuple[int, bytes, float]:
        """Episode `item`; `world` is (driver's folder, content hash, [shipped copy]), read on the first call."""
        if not self.ready:
            import ray

            for path, digest in self.files.items():
                here = file_sha256(Path(path)) if Path(path).is_file() else "missing"
                if here != digest:
                    raise FileNotFoundError(f"{path} on node {ray.util.get_node_ip_address()} is {here[:12]}, not "
                                            f"the driver's {digest[:12]}: put the same file at that path on "
                                            "every node (or on a shared filesystem)")
            folder, digest, (shipped,) = world
            try:
                here = local_world(folder, digest, None)
            except FileNotFoundError:  # another machine: fetch the shipped copy (once per machine)
                here = local_world(folder, digest, ray.get(shipped))
            init_worker(self.episode_fn, self.config.model_copy(update={"catalog": str(here)}))
            self.ready = True
        return episode_line(item)


class RayEngine:
    """Episodes on the actors of a connected Ray cluster."""

    def __init__(self, ray: Any, address: str | None, gpus_per_worker: float) -> None:
        self.ray, self.address, self.gpus_per_worker = ray, address, gpus_per_worker

    def check(self, workers: int) -> None:
        """Refuse a run whose actors the cluster cannot hold all at once (they would wait forever)."""
        threads = threads_per_worker(workers)
        resources = self.ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        if workers * threads > cpus:
            raise RunError(f"the Ray cluster has {cpus:g} CPUs; {workers} workers of {threads} llama.cpp threads "
                           f"need {workers * threads}: lower --workers or {THREADS_VARIABLE}, or add nodes")
        if workers * self.gpus_per_worker > gpus:
            raise RunError(f"the Ray cluster has {gpus:g} GPUs; {workers} workers of {self.gpus_per_worker:g} GPUs "
                           f"need {workers * self.gpus_per_worker:g}: lower --workers or --gpus-per-worker")

    def describe(self) -> dict:
        resources = self.ray.cluster_resources()
        return {"name": "ray", "address": self.address or "local", "ray": self.ray.__version__,
                "nodes": sum(1 for node in self.ray.nodes() if node.get("Alive")),
                "cpus": resources.get("CPU", 0.0), "gpus": resources.get("GPU", 0.0),
                "memory_gib": round(resources.get("memory", 0.0) / 2**30, 1)}

    def results(self, config: RunConfig, episode_fn: EpisodeFn, todo: list[tuple[int, str]],
                workers: int) -> Iterator[tuple[int, bytes, float]]:
        ray = self.ray
        threads = threads_per_worker(workers)
        folder = world_folder(config.catalog)
        digest = world_hash(folder)
        if digest is None:
            raise RunError(f"{folder} holds no readable world to ship to the Ray actors")
        world = (str(folder), digest, [ray.put(pack_world(folder))])  # in a list: actors fetch it only if needed
        actor_class = ray.remote(EpisodeActor).options(num_cpus=threads, num_gpus=self.gpus_per_worker,
                                                       max_restarts=-1, max_task_retries=0)
        files = {path: file_sha256(Path(path)) for path in (config.model, config.options.get("adapter")) if path}
        actors = [actor_class.remote(episode_fn, config, threads, files) for _ in range(workers)]
        queue, attempts, pending = deque(todo), Counter(), {}

        def submit(actor: Any) -> None:
            item = queue.popleft()
            pending[actor.run.remote(item, world)] = (actor, item)

        try:
            for actor in actors[: len(queue)]:
                submit(actor)
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                actor, (episode, task_id) = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    raise EpisodeFailed(" ".join(str(error.cause).split())) from None
                except ray.exceptions.RayActorError as error:
                    attempts[episode] += 1
                    reason = type(error).__name__
                    if attempts[episode] >= MAX_ATTEMPTS:
                        raise EpisodeFailed(f"episode {episode} (task {task_id}) lost its Ray actor {MAX_ATTEMPTS} "
                                            f"times; last: {reason}") from None
                    print(f"shopgym: episode {episode}: its Ray actor died ({reason}); running it again",
                          file=sys.stderr)
                    queue.appendleft((episode, task_id))
                    submit(actor)  # Ray restarts the actor; the call waits for it
                    continue
                yield result
                if queue:
                    submit(actor)
        finally:
            for actor in actors:
                ray.kill(actor)


@contextmanager
def ray_engine(address: str | None, workers: int, gpus_per_worker: float = 0.0) -> Iterator[RayEngine]:
    """Connected to the cluster at `address` (None: a local instance), checked to hold `workers` actors, for
    the duration of the block."""
    ray = import_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address != "auto":
        _probe(address)
    try:
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RunError(f"could not join the Ray cluster at {address or 'a new local instance'}: "
                       f"{' '.join(str(error).split())}") from None
    try:
        engine = RayEngine(ray, address, gpus_per_worker)
        engine.check(workers)
        yield engine
    finally:
        ray.shutdown()
