"""The `shopgym` console script: one verb per stage, heavy imports inside the verbs.

With `--json` a verb writes exactly one JSON document to stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from shopgym import __version__
from shopgym.cli_args import count, dollars, number, one_line, spec_filter

if TYPE_CHECKING:
    from shopgym.agents.runner import EngineSpec


def _emit(args: argparse.Namespace, document: Any, text: str) -> None:
    if args.json:
        json.dump(document, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(text)


def _money(cents: int | None) -> str:
    return "n/a" if cents is None else f"${cents / 100:,.2f}"


def _catalog_build(args: argparse.Namespace) -> int:
    from shopgym.catalog.build import build_world
    from shopgym.catalog.world import WorldConfig

    overrides = {k: getattr(args, k) for k in ("reviews_per_product", "pages", "shoppers", "tasks_per_shopper")
                 if getattr(args, k) is not None}
    config = WorldConfig(seed=args.seed, products=args.products, **overrides)
    report = build_world(config, Path(args.out), search_backend=args.search, progress=not args.quiet,
                         overwrite=args.overwrite)
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    times = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    _emit(args, report.model_dump(), f"built {report.out}: {counts}\n  {times}\n  content hash {report.content_hash}")
    return 0


def _catalog_stats(args: argparse.Namespace) -> int:
    from shopgym.catalog import CatalogReader

    with CatalogReader(args.dir) as reader:
        stats = reader.stats()
    lines = [f"{k}: {v}" for k, v in stats.model_dump().items()]
    _emit(args, stats.model_dump(), "\n".join(lines))
    return 0


def _catalog_search(args: argparse.Namespace) -> int:
    from shopgym.catalog import CatalogReader, SearchFilters

    filters = SearchFilters(
        category=args.category, brand=args.brand,
        min_price_cents=round(args.min_price * 100) if args.min_price is not None else None,
        max_price_cents=round(args.max_price * 100) if args.max_price is not None else None,
        min_rating=args.min_rating, specs=args.spec,
    )
    with CatalogReader(args.dir) as reader:
        result = reader.search_products(args.query, filters, sort=args.sort, page=args.page, page_size=args.page_size)
    lines = [f"{result.total} matches for {args.query!r} (page {result.page})"]
    lines += [f"  {p.id}  {_money(p.price_cents):>10}  {p.rating:.1f}* ({p.review_count})  {p.title}"
              for p in result.products]
    _emit(args, result.model_dump(), "\n".join(lines))
    return 0


def _catalog_history(args: argparse.Namespace) -> int:
    from shopgym.catalog import CatalogReader

    with CatalogReader(args.dir) as reader:
        shopper = args.shopper or reader.tasks(args.split)[0].shopper_id
        events = reader.shopper_history(shopper)
    lines = [f"history of shopper {shopper}:"]
    for e in events:
        detail = e.query or e.text or ""
        product = f"{e.product_id} {_money(e.price_cents)}" if e.product_id else ""
        lines.append(f"  day {e.day:>3}  {e.kind:<8} {e.category:<15} {product}  {detail}".rstrip())
    _emit(args, {"shopper_id": shopper, "events": [e.model_dump() for e in events]}, "\n".join(lines))
    return 0


def _catalog_import(args: argparse.Namespace) -> int:
    from shopgym.catalog.importers import import_catalog

    report = import_catalog(args.format, Path(args.out), meta=args.meta, reviews=args.reviews,
                            products=args.products, mapping=args.mapping, max_bad_rate=args.max_bad_rate,
                            search_backend=args.search)
    text = [f"imported {report.imported} from {report.rows_read} rows; {len(report.rejected)} rejected "
            f"(bad-row rate {report.bad_rate:.1%})"]
    text += [f"  {r.file}:{r.line}: {r.reason}" for r in report.rejected[:20]]
    _emit(args, report.model_dump(mode="json"), "\n".join(text))
    if report.exceeded_max_bad_rate:
        print(f"bad-row rate {report.bad_rate:.1%} exceeds --max-bad-rate {args.max_bad_rate:.1%}; "
              "every good row was kept", file=sys.stderr)
        return 1
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from shopgym.agents.evaluate import evaluate

    catalog = Path(args.catalog) if args.catalog else None
    if args.policy is None:
        if not (args.model or args.adapter):
            raise ValueError("choose --policy (heuristic, random, oracle, llm, teacher), or give --model/--adapter "
                             "to evaluate a model single-agent")
        args.policy = "llm"
    if args.policy in ("llm", "teacher"):
        result = _evaluate_llm(args, catalog)
    else:
        llm_only = [flag for flag, value in (("--model", args.model), ("--adapter", args.adapter),
                                             ("--no-grammar", args.no_grammar), ("--no-thoughts", args.no_thoughts),
                                             ("--workers", args.workers != 1), ("--out", args.out),
                                             ("--user-request", args.user_request),
                                             ("--engine", args.engine != "local"),
                                             ("--ray-address", args.ray_address),
                                             ("--gpus-per-worker", args.gpus_per_worker),
                                             ("--gpu-layers", args.gpu_layers)) if value]
        if llm_only:
            raise ValueError(f"{', '.join(llm_only)} apply to --policy llm or teacher, not {args.policy}")
        result = evaluate(args.policy, catalog, args.split, args.episodes, args.seed, progress=not args.json,
                          trials=args.trials)
    name = args.policy + (f" with adapter {args.adapter}" if args.adapter else "") + (
        " (grammar off)" if args.no_grammar else "") + (" on the User Agent's request" if args.user_request else "")
    lines = [f"{name} on {args.episodes} {args.split} tasks: mean reward {result.mean_reward:.3f} "
             f"(95% CI {result.reward_ci95[0]:.3f} to {result.reward_ci95[1]:.3f}); "
             f"pass^{result.trials} {result.pass_k:.3f}"
             + (f", outcome flips between trials on {result.flip_rate:.3f} of tasks" if result.trials > 1 else "")]
    if result.call_validity is not None:
        lines[0] += f"; tool-call validity {result.call_validity:.3f}"
    if result.rejected_causes:
        causes = ", ".join(f"{cause} {n}" for cause, n in result.rejected_causes.items())
        lines.append(f"  refused calls by cause: {causes} (each turn and where it broke: "
                     f"`shopgym show {result.details['run']}`)")
    lines += [f"  {name:<22} {p.mean:8.3f}  [{p.ci95[0]:.3f}, {p.ci95[1]:.3f}]" for name, p in result.parts.items()]
    lines += [f"  absent: {name}: {why}" for name, why in result.absent.items()]
    if args.save:
        Path(args.save).write_text(result.model_dump_json(indent=1) + "\n")
    _emit(args, result.model_dump(mode="json"), "\n".join(lines))
    return 0


def _evaluate_llm(args: argparse.Namespace, catalog: Path | None):
    from shopgym.agents.evaluate_llm import default_run_dir, evaluate_llm
    from shopgym.agents.generate import Decoding
    from shopgym.envs.default_world import cache_root

    if args.no_thoughts and args.policy == "teacher":
        raise ValueError("--no-thoughts applies to --policy llm: the teacher pipeline never writes reasoning lines")
    decoding = Decoding(adapter=args.adapter, grammar=not args.no_grammar, temperature=args.temperature,
                        trials=args.trials, thoughts=args.policy == "llm" and not args.no_thoughts,
                        user_request=args.user_request)
    key = {"policy": args.policy, "catalog": str(catalog.resolve()) if catalog else None, "split": args.split,
           "episodes": args.episodes, "seed": args.seed, "model": args.model, **decoding.model_dump(),
           **({"gpu_layers": args.gpu_layers} if args.gpu_layers else {})}
    out = Path(args.out) if args.out else default_run_dir(cache_root(), key)
    return evaluate_llm(args.policy, catalog, args.split, args.episodes, args.seed,
                        Path(args.model) if args.model else None, decoding, out, progress=not args.json,
                        workers=args.workers, engine=_engine_spec(args), gpu_layers=args.gpu_layers)


def _compare(args: argparse.Namespace) -> int:
    from shopgym.agents.compare import compare, markdown, plot, shared_episodes
    from shopgym.agents.evaluate import Evaluation

    evaluations = {Path(p).stem: Evaluation.model_validate_json(Path(p).read_text()) for p in args.evaluations}
    pairs = []
    for text in args.diff:
        if text.count(":") != 1:
            raise ValueError(f"--diff {text!r}: expected A:B with two evaluation labels, e.g. student:base")
        pairs.append(tuple(text.split(":")))
    if args.shared:
        evaluations = shared_episodes(evaluations)
    comparison = compare(evaluations, pairs, args.teacher)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(comparison)
    (out / "comparison.md").write_text(table)
    (out / "comparison.json").write_text(comparison.model_dump_json(indent=1, exclude={"evaluations"}) + "\n")
    plot(comparison, out / "comparison.png")
    _emit(args, comparison.model_dump(mode="json", exclude={"evaluations"}), table + f"\nwrote {out}/comparison.*")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from shopgym.agents.generate import Decoding, generate

    summary = generate(args.catalog, args.split, args.episodes, args.workers, args.seed, args.model, args.mode,
                       Path(args.out), critique=args.critique, progress=not args.json,
                       decoding=Decoding(user_agent=args.user_agent), engine=_engine_spec(args),
                       gpu_layers=args.gpu_layers)
    text = "\n".join(f"{k}: {v}" for k, v in summary.model_dump(mode="json").items())
    _emit(args, summary.model_dump(mode="json"), text)
    return 0


def _engine_spec(args: argparse.Namespace) -> EngineSpec:
    """The engine the options name, refusing Ray options without `--engine ray`."""
    from shopgym.agents.runner import EngineSpec

    for flag, value in (("--ray-address", args.ray_address), ("--gpus-per-worker", args.gpus_per_worker)):
        if value and args.engine != "ray":
            raise ValueError(f"{flag} applies to --engine ray; add --engine ray or leave out {flag}")
    if args.engine == "ray" and args.gpu_layers and not args.gpus_per_worker:
        raise ValueError("--gpu-layers on --engine ray needs --gpus-per-worker: Ray hides GPUs from actors that "
                         "reserve none")
    return EngineSpec(name=args.engine, address=args.ray_address, gpus_per_worker=args.gpus_per_worker)


def _engine_args(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """Where the episodes run: the engine, its cluster, and the GPUs they use."""
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help=f"{scope}local: worker processes on this machine; ray: actors on a Ray cluster, one model "
                             "each (pip install -e '.[ray]'); the records are the same (default: local)")
    parser.add_argument("--ray-address",
                        help=f"{scope}with --engine ray: a running cluster, host:port, ray://host:port or auto "
                             "(default: $RAY_ADDRESS, else a local Ray instance for the run)")
    parser.add_argument("--gpus-per-worker", type=number(0, 64), default=0.0,
                        help=f"{scope}with --engine ray: GPUs each actor reserves, e.g. 0.25 for four actors per GPU "
                             "(default: 0)")
    parser.add_argument("--gpu-layers", type=count(-1), default=0,
                        help=f"{scope}model layers offloaded to a GPU, -1 for all; needs llama.cpp built with CUDA "
                             "(docs/ray.md) and changes the text, so it is part of the run (default: 0, CPU only)")


def _show(args: argparse.Namespace) -> int:
    from shopgym.agents.run_folder import read_trajectories
    from shopgym.agents.trajectory_html import trajectories_html

    records = read_trajectories(Path(args.run_dir) / "trajectories.jsonl")
    if args.episodes:
        records = [r for r in records if r.extra.get("episode") in set(args.episodes)]
    out = Path(args.out) if args.out else Path(args.run_dir) / "trajectories.html"
    out.write_text(trajectories_html(records, title=f"shopgym run {args.run_dir}"))
    _emit(args, {"html": str(out), "episodes": len(records)}, f"wrote {out} ({len(records)} episodes)")
    return 0


def _distill(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    import shopgym.format as fmt
    from shopgym.agents.backends import embedded_model_path
    from shopgym.agents.run_folder import read_trajectories
    from shopgym.chat_template import ChatTemplate
    from shopgym.distill import filters as F
    from shopgym.distill.dataset import distill
    from shopgym.distill.internalize import internalize

    records = [r for run in args.runs for r in read_trajectories(Path(run) / "trajectories.jsonl")]
    path = Path(args.model) if args.model else embedded_model_path()
    chat = ChatTemplate.from_gguf(path)  # the student's template: what it will be trained and run on
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)

    def count_text(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def count(messages, tools=None) -> int:
        return count_text(fmt.render(messages, chat, tools=fmt.hf_tools(tools or [])))

    rewrite = None
    if args.rewrite == "llm":
        from shopgym.agents.backends import LlamaBackend

        backend = LlamaBackend(path)

        @functools.cache  # the filters and the writer internalize each record: one rewrite per reflection
        def rewrite(points: str, template: str) -> str:
            prompt = fmt.one_shot(chat, "Rewrite the note as one or two first-person sentences about what to check "
                                        "before acting. Keep every id and number.", template)
            return backend.complete(backend.tokenize(prompt), role="rewrite", max_tokens=80).text

    def turns(record):  # what distill writes, so the filters measure the same text
        return internalize(record, rewrite)

    chosen = [*F.default_filters(args.min_reward),
              F.fits_context(lambda record: count(turns(record), record.extra.get("tools")), args.max_tokens),
              F.within_decoding_caps(count_text, turns)]
    if args.filters == "none":
        chosen = []
    elif args.filters != "default":
        names = args.filters.split(",")
        unknown = set(names) - {f.name for f in chosen}
        if unknown:
            raise ValueError(f"unknown filters {sorted(unknown)}; valid: {', '.join(f.name for f in chosen)}")
        chosen = [f for f in chosen if f.name in names]
    if args.max_rule_share is not None:
        chosen.append(F.max_rule_share(args.max_rule_share))
    report = distill(records, chosen, Path(args.out), count_tokens=count, rewrite=rewrite,
                     best_per_task=args.best_per_task)
    text = [f"kept {report.kept} of {report.total} runs; examples: {report.examples}"]
    if report.rule_share is not None:
        text.append(f"turns written by rules, mean over kept runs: {report.rule_share:.0%}")
    text += [f"  dropped by {name}: {n}" for name, n in report.dropped.items()]
    _emit(args, report.model_dump(exclude={"reward_before", "reward_after"}), "\n".join(text))
    return 0


def _train(args: argparse.Namespace) -> int:
    from shopgym.agents.backends import embedded_model_path
    from shopgym.envs.default_world import cache_root
    from shopgym.train import TrainConfig, bf16_supported, default_device, train_student

    chosen = {key: getattr(args, key) for key in ("epochs", "max_steps", "rank", "alpha", "learning_rate",
                                                  "grad_accum", "seed") if getattr(args, key) is not None}
    device = default_device(args.device)
    bf16 = bf16_supported(device) if args.precision == "auto" else args.precision == "bf16"
    config = TrainConfig(**chosen, device=device, bf16=bf16)
    base = Path(args.base) if args.base else embedded_model_path()
    summary = train_student(Path(args.data), base, Path(args.out), config, cache_root() / "hf-base",
                            progress=not args.json)
    _emit(args, summary.model_dump(), f"{summary.steps} steps on {summary.examples} examples "
          f"(resumed from step {summary.resumed_from}); loss {summary.first_loss} -> {summary.last_loss}; "
          f"{summary.tokens_per_second} tokens/s; peak memory {summary.peak_memory_mb} MB\n"
          f"adapter: {summary.adapter_gguf}; loss curve: {Path(args.out) / 'loss.png'}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other error of the script."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"shopgym: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shopgym", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"shopgym {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (or SHOPGYM_DEBUG=1)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    catalog = verbs.add_parser("catalog", help="build, inspect, search and import catalogs")
    actions = catalog.add_subparsers(dest="action", required=True)

    def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--json", action="store_true", help="write one JSON document to stdout")
        return p

    build = with_json(actions.add_parser("build", help="generate a seeded synthetic world"))
    build.add_argument("--seed", type=int, default=0, help="world seed (default: 0)")
    build.add_argument("--products", type=count(70), default=2000, help="products, at least 70 (default: 2000)")
    build.add_argument("--out", required=True, help="folder to create")
    build.add_argument("--reviews-per-product", type=number(0, 1000), dest="reviews_per_product",
                       help="mean reviews per product (default: 10)")
    build.add_argument("--pages", type=count(14), help="web pages (default: products / 10, at least 8 per category)")
    build.add_argument("--shoppers", type=count(10), help="shoppers (default: 1000)")
    build.add_argument("--tasks-per-shopper", type=count(1, 3), dest="tasks_per_shopper",
                       help="tasks per shopper, 1 to 3 (default: 2)")
    build.add_argument("--search", choices=["whoosh", "fts5"], default="whoosh",
                       help="full-text index backend (default: whoosh)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing catalog in --out")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(run=_catalog_build)

    stats = with_json(actions.add_parser("stats", help="counts and content hash of a catalog"))
    stats.add_argument("dir", help="catalog folder")
    stats.set_defaults(run=_catalog_stats)

    search = with_json(actions.add_parser("search", help="search products with filters"))
    search.add_argument("dir", help="catalog folder")
    search.add_argument("query", help="search words ('' for none: filters only)")
    search.add_argument("--category", help="only this category id (default: all)")
    search.add_argument("--brand", help="only this brand (default: all)")
    search.add_argument("--min-price", type=dollars, dest="min_price", help="dollars (default: none)")
    search.add_argument("--max-price", type=dollars, dest="max_price", help="dollars (default: none)")
    search.add_argument("--min-rating", type=number(0, 5), dest="min_rating", help="stars, 0 to 5 (default: none)")
    search.add_argument("--spec", action="append", default=[], type=spec_filter,
                        help="name=value, 'name>=n' or 'name<=n' (quote > and <; repeatable; default: none)")
    search.add_argument("--sort", default="relevance",
                        choices=["relevance", "price_asc", "price_desc", "rating", "review_count"],
                        help="result order (default: relevance)")
    search.add_argument("--page", type=count(1, 1000), default=1, help="result page (default: 1)")
    search.add_argument("--page-size", type=count(1, 50), default=10, dest="page_size",
                        help="results a page (default: 10)")
    search.set_defaults(run=_catalog_search)

    history = with_json(actions.add_parser("history", help="a shopper's observable behaviour history"))
    history.add_argument("dir", help="catalog folder")
    history.add_argument("--shopper", help="shopper id (default: the shopper of the first task of --split)")
    history.add_argument("--split", default="train", choices=["train", "val", "test"],
                         help="split whose first task picks the shopper (default: train)")
    history.set_defaults(run=_catalog_history)

    imp = with_json(actions.add_parser("import", help="import a real catalog dump"))
    imp.add_argument("--format", required=True, choices=["amazon2023", "webshop", "mapped"],
                     help="the dump's layout: Amazon Reviews 2023, WebShop items, or any CSV/JSONL with --mapping")
    imp.add_argument("--meta", type=Path, help="amazon2023 item metadata JSONL (.gz ok; required for amazon2023)")
    imp.add_argument("--reviews", type=Path,
                     help="amazon2023 reviews JSONL (.gz ok; default: none, ratings from the metadata)")
    imp.add_argument("--products", type=Path,
                     help="webshop product JSON, or mapped CSV/JSONL (required for those formats)")
    imp.add_argument("--mapping", type=Path, help="field mapping JSON (required for --format mapped)")
    imp.add_argument("--out", required=True, help="catalog folder to create (a rerun resumes an unfinished import)")
    imp.add_argument("--max-bad-rate", type=number(0, 1), default=0.25, dest="max_bad_rate",
                     help="share of bad rows above which the import fails (default: 0.25)")
    imp.add_argument("--search", choices=["whoosh", "fts5"], default="whoosh",
                     help="full-text index backend (default: whoosh)")
    imp.set_defaults(run=_catalog_import)

    evaluate = with_json(verbs.add_parser("evaluate", help="run a policy on distinct tasks and report rewards"))
    evaluate.add_argument("--policy", choices=["heuristic", "shallow", "random", "oracle", "llm", "teacher"],
                          help="shallow: the heuristic without reading reviews or pages (ranks by stars); "
                               "llm: the model single-agent (with --adapter: the student; the default when --model "
                               "or --adapter is given, else required); teacher: the supervised multi-agent pipeline")
    evaluate.add_argument("--catalog", help="catalog folder (default: the cached default world)")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"],
                          help="task split (default: test)")
    evaluate.add_argument("--episodes", type=count(1), default=20, help="distinct tasks (default: 20)")
    evaluate.add_argument("--seed", type=int, default=1, help="seed of episode 0; episode i uses seed + i (default: 1)")
    evaluate.add_argument("--model", help="llm/teacher: GGUF path (default: the embedded SmolLM2-135M-Instruct)")
    evaluate.add_argument("--adapter",
                          help="llm/teacher: a GGUF LoRA adapter, e.g. STUDENT_DIR/adapter.gguf (default: none)")
    evaluate.add_argument("--no-grammar", action="store_true", help="llm: decode calls freely; reports validity")
    evaluate.add_argument("--no-thoughts", action="store_true",
                          help="llm: no line of reasoning before a call (on by default: distilled turns open with one)")
    evaluate.add_argument("--temperature", type=number(0, 5), default=0.0, help="llm/teacher: 0 is greedy (default: 0)")
    evaluate.add_argument("--trials", type=count(1), default=1,
                          help="runs per task (seeds differ), for pass^k and the share of tasks whose outcome flips "
                               "(default: 1)")
    evaluate.add_argument("--user-request", action="store_true", dest="user_request",
                          help="llm/teacher: research the User Agent's request (as `generate` writes it by default) "
                               "instead of the canonical one (a synthesis feature; labelled in the output)")
    evaluate.add_argument("--workers", type=count(1, 64), default=1,
                          help="llm/teacher: worker processes (threads split between them; the output is the same; "
                               "default: 1)")
    _engine_args(evaluate, "llm/teacher: ")
    evaluate.add_argument("--out", help="llm/teacher: run folder, resumed by a rerun (default: under the cache)")
    evaluate.add_argument("--save", help="also write the evaluation's JSON document to this file (default: none)")
    evaluate.set_defaults(run=_evaluate)

    cmp = with_json(verbs.add_parser("compare", help="policies side by side: Markdown table, PNG, paired bootstrap"))
    cmp.add_argument("evaluations", nargs="+", help="JSON files from `evaluate --save`; each labelled by its stem")
    cmp.add_argument("--diff", action="append", default=[], metavar="A:B",
                     help="paired bootstrap of A - B on shared tasks (repeatable), e.g. student:base (default: none)")
    cmp.add_argument("--teacher", help="label of the teacher: report the share of the gap each --diff closes "
                                       "(default: none)")
    cmp.add_argument("--shared", action="store_true",
                     help="cut every evaluation to the (task, seed) episodes all of them ran, e.g. a 10-task run "
                          "beside the same tasks of a 100-task one (default: each over all its episodes)")
    cmp.add_argument("--out", required=True, help="folder for comparison.md, comparison.png, comparison.json")
    cmp.set_defaults(run=_compare)

    gen = with_json(verbs.add_parser("generate", help="synthesize research trajectories with local LLM agents"))
    gen.add_argument("--catalog", help="catalog folder (default: the cached default world)")
    gen.add_argument("--split", default="train", choices=["train", "val", "test"],
                     help="task split (default: train)")
    gen.add_argument("--episodes", type=count(1), required=True, help="episodes to run")
    gen.add_argument("--workers", type=count(1, 64), default=1,
                     help="llama.cpp worker processes, threads split between them (default: 1)")
    _engine_args(gen)
    gen.add_argument("--seed", type=int, default=0, help="seed of episode 0; episode i uses seed + i (default: 0)")
    gen.add_argument("--model", help="GGUF path (default: the embedded SmolLM2-135M-Instruct)")
    gen.add_argument("--mode", default="supervised", choices=["supervised", "single"],
                     help="supervised: every step reviewed; single: the researcher alone (default: supervised)")
    gen.add_argument("--critique", action="store_true", help="add an LLM critique to the grounded feedback")
    gen.add_argument("--user-agent", choices=["llm", "rules"], default="rules", dest="user_agent",
                     help="who writes the User Agent's brief (budget, must-haves, deal-breakers, priorities) from the "
                          "shopper's history: rules: regular expressions over the history, which find no "
                          "deal-breakers; llm: the model, under a grammar (rules stand in when it writes no whole "
                          "brief; with the embedded model its must-haves are poor: docs/benchmarks.md) "
                          "(default: rules)")
    gen.add_argument("--out", required=True, help="run folder: trajectories.jsonl and manifest.json")
    gen.set_defaults(run=_generate)

    show = with_json(verbs.add_parser("show", help="render a run's trajectories as an HTML page"))
    show.add_argument("run_dir", metavar="RUN", help="run folder written by `shopgym generate`")
    show.add_argument("--episodes", type=int, nargs="*", help="episode indices (default: all)")
    show.add_argument("--out", help="HTML file (default: RUN/trajectories.html)")
    show.set_defaults(run=_show)

    dist = with_json(verbs.add_parser("distill", help="filter runs and internalize them into training examples"))
    dist.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders written by `shopgym generate`")
    dist.add_argument("--out", required=True, help="DATA_DIR: train/val/test.jsonl, README.md, report")
    dist.add_argument("--filters", default="default", help="default, none, or a comma list of filter names")
    dist.add_argument("--min-reward", type=number(0, 1), default=0.5, dest="min_reward",
                      help="keep runs whose reward is at least this (default: 0.5)")
    dist.add_argument("--max-rule-share", type=number(0, 1), dest="max_rule_share",
                      help="drop runs where rules wrote more than this share of the turns (User Agent request, "
                           "reviewer findings, adopted corrections; default: keep all)")
    dist.add_argument("--best-per-task", action="store_true", dest="best_per_task",
                      help="of the runs that pass, keep only the highest-reward one of each task (expert iteration "
                           "over k attempts; default: keep every run that passes)")
    dist.add_argument("--max-tokens", type=count(256), default=4096, dest="max_tokens",
                      help="the student's context in tokens (default: 4096)")
    dist.add_argument("--rewrite", choices=["template", "llm"], default="template",
                      help="how reflections are written (both pass the same leak check; default: template)")
    dist.add_argument("--model", help="the student's GGUF: its tokenizer and chat template measure the examples, "
                      "and --rewrite llm runs on it (default: the embedded model)")
    dist.set_defaults(run=_distill)

    trn = with_json(verbs.add_parser("train", help="LoRA-train a student on distilled data; export adapter.gguf"))
    trn.add_argument("data", help="folder written by `shopgym distill` (reads train.jsonl)")
    trn.add_argument("--base", help="base model: a GGUF file or an HF folder (default: the embedded SmolLM2-135M)")
    trn.add_argument("--out", required=True, help="student folder (a rerun resumes from its last checkpoint)")
    trn.add_argument("--max-steps", type=count(1), help="optimizer steps (default: from --epochs)")
    # unset options take TrainConfig's defaults (saved, resolved, in STUDENT_DIR/train_config.json)
    trn.add_argument("--epochs", type=number(0, 1000, above=True), help="passes over train.jsonl (default: 2)")
    trn.add_argument("--rank", type=count(1, 1024), help="LoRA rank (default: 16)")
    trn.add_argument("--alpha", type=number(0, 1e4, above=True), help="LoRA alpha (default: 32)")
    trn.add_argument("--learning-rate", type=number(0, 1, above=True), help="AdamW learning rate (default: 1e-3)")
    trn.add_argument("--grad-accum", type=count(1), help="examples per optimizer step (default: 4)")
    trn.add_argument("--seed", type=int, help="training seed (default: 0)")
    trn.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when present, else cpu")
    trn.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="forward matmuls in bfloat16 (auto: when the device has native bfloat16; weights stay fp32; "
                          "default: auto)")
    trn.set_defaults(run=_train)
    return parser


USAGE_ERRORS = (ValueError, LookupError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError)
RUNTIME_ERRORS = (OSError, sqlite3.Error, RuntimeError)


def main(argv: list[str] | None = None) -> int:
    """Run one verb. Expected failures print one line `shopgym: error: ...` and exit 2 (bad input) or 1
    (the run failed); `--debug` or SHOPGYM_DEBUG=1 shows the traceback instead."""
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("SHOPGYM_DEBUG") == "1"
    try:
        return args.run(args)
    except BrokenPipeError:  # stdout closed early, e.g. piped into `head`
        sys.stderr.close()
        return 0
    except (*USAGE_ERRORS, *RUNTIME_ERRORS) as error:
        if debug:
            traceback.print_exc()
        usage = isinstance(error, USAGE_ERRORS)
        hint = "" if debug else " (rerun with --debug for the traceback)"
        print(f"shopgym: error: {one_line(error)}{'' if usage else hint}", file=sys.stderr)
        return 2 if usage else 1


if __name__ == "__main__":
    sys.exit(main())
