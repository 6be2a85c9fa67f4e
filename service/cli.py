"""The ``appeals`` command: parse options, call the library (or start the service), print.

Nothing else lives here. It sits beside the HTTP service rather than in ``nlp/``: both are
clients of the library, and both read the same settings (:class:`service.settings.Settings`).
Heavy modules are imported inside each command, so ``appeals --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.errors import AppealRouterError, DataError, InvalidNameError, ModelNotFoundError

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["main"]

logger = logging.getLogger("appeals")

Handler = Callable[[argparse.Namespace], int]


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("appeal-router")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; 'pip install .' to install it)"


def _settings() -> Settings:
    """The settings every command shares with the service: ``APPEALS_*`` variables and a
    ``.env`` in the current folder, read by the service's own :class:`Settings`, so that
    ``appeals models activate`` changes the registry ``appeals serve`` serves. Command-line
    options win over them."""
    from pydantic import ValidationError

    from service.settings import Settings  # pydantic-settings: only commands that run pay

    try:
        return Settings()
    except ValidationError as error:
        # A setting's own error names it; one between settings (loc empty) names them all.
        problems = "; ".join(
            f"APPEALS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" if e["loc"] else e["msg"]
            for e in error.errors()[:5]
        )
        raise DataError(
            f"invalid settings in the environment or .env: {problems}; correct or unset them"
        ) from None


def _apply_settings(args: argparse.Namespace) -> None:
    """Options left unset take their value from :func:`_settings`: ``--models-dir`` from
    APPEALS_MODELS_DIR, ``--model`` (and ``train --name``) from APPEALS_MODEL_NAME.
    ``models --name`` stays unset: ``models list`` then lists every model."""
    settings = _settings()
    if getattr(args, "models_dir", False) is None:
        args.models_dir = settings.models_dir
    if getattr(args, "model", False) is None:
        args.model = settings.model_name
    if args.command == "train" and args.name is None:
        args.name = settings.model_name


def _signing_key() -> str | None:
    """``APPEALS_SIGNING_KEY`` from the shared settings, so the command signs and verifies
    with the server's key."""
    return _settings().signing_key_value


def _registry(args: argparse.Namespace) -> Any:
    from nlp.registry import Registry

    return Registry(args.models_dir, signing_key=_signing_key())


def _known_model(registry: Any, name: str) -> str:
    """``name`` if the registry holds a model of that name; otherwise an error that lists
    the names it does hold (a misspelt ``--model`` or ``APPEALS_MODEL_NAME``, or the wrong
    ``--models-dir``)."""
    import difflib

    from nlp.registry import check_model_name

    names: list[str] = registry.names()
    if name in names:
        return name
    try:
        check_model_name(name)
    except InvalidNameError as error:
        held = ", ".join(names) or "no models"
        raise InvalidNameError(f"{error}; the registry {registry.root} holds: {held}") from None
    if not names:
        raise ModelNotFoundError(
            f"no model {name!r}: the registry {registry.root} holds no models; train one with "
            "'appeals train DATA', or point --models-dir (APPEALS_MODELS_DIR) at the registry"
        )
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ModelNotFoundError(
        f"no model {name!r} in the registry {registry.root}; {hint}it holds: {', '.join(names)}"
    )


def _load_model(args: argparse.Namespace) -> Any:
    from nlp.registry import parse_model_ref

    name, version = parse_model_ref(args.model)
    registry = _registry(args)
    return registry.load(_known_model(registry, name), version)


def _report_dir(args: argparse.Namespace) -> Path | None:
    """``--report-dir``, created now: a folder that cannot be made fails the command before
    its long work, not after."""
    if not args.report_dir:
        return None
    folder = Path(args.report_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"--report-dir {folder}: cannot create the folder ({error.strerror or error}); "
            "name a folder that can be created, or an existing one"
        ) from None
    return folder


def _columns(frame: Any, args: argparse.Namespace) -> tuple[str, str | None]:
    """(text column, title column). A column named on the command line must exist; the
    defaults 'text' and 'title' are used when present (a title-only file has no 'text')."""
    from nlp.documents import require_columns

    named = [c for c in (args.text_col, args.title_col) if c is not None]
    require_columns(frame, named, what="input")
    return args.text_col or "text", args.title_col or "title"


# --------------------------------------------------------------------------- train
#: ``appeals train --feedback`` alone: the corrections in the service's ticket store.
_THE_STORE = "\0store"


def _feedback_source(source: str) -> str:
    """What the manifest records of ``--feedback``: a file's path; for a store, its URL
    without the password."""
    from nlp.store import describe_url

    return describe_url(source) if "://" in source else source


def _check_feedback_options(args: argparse.Namespace) -> None:
    """``--feedback-weight`` or ``--feedback-holdout`` without ``--feedback`` is a mistake
    worth saying (they would change nothing)."""
    given = [
        flag
        for flag, value in (
            ("--feedback-weight", args.feedback_weight),
            ("--feedback-holdout", args.feedback_holdout),
            ("--feedback-accepted", args.feedback_accepted),
        )
        if value is not None
    ]
    if given and args.feedback is None:
        raise DataError(f"{', '.join(given)}: only for corrections; add --feedback SOURCE")


def cmd_train(args: argparse.Namespace) -> int:
    from nlp.analysis.plots import plot_confusion
    from nlp.io import read_tables
    from nlp.promotion import review_candidate
    from nlp.train import TrainConfig, read_accepted, read_feedback, train

    registry = _registry(args)
    registry.check_can_save(args.name)  # a bad name or registry fails now, not after training
    report_dir = _report_dir(args)
    _check_feedback_options(args)
    if args.feedback == _THE_STORE:
        args.feedback = _store_url(args)
    frame = read_tables(args.data)
    eval_frame = read_tables(args.eval) if args.eval else None
    feedback = read_feedback(args.feedback) if args.feedback is not None else None
    accepted = None
    if args.feedback_accepted is not None:
        if "://" not in args.feedback:
            raise DataError(
                "--feedback-accepted: the answers nobody corrected are in the ticket store; "
                "give --feedback alone or --feedback STORE_URL, not a file"
            )
        accepted = read_accepted(args.feedback)
    # Trained on corrections, the candidate is put beside the model in service (loaded now:
    # one that cannot be loaded fails the command before the training, not after).
    current = None
    if feedback is not None and registry.active(args.name) is not None:
        current = registry.load(args.name)
    text_col, title_col = _columns(frame, args)
    config = TrainConfig(
        text_col=text_col,
        title_col=title_col,
        label_col=args.label_col,
        min_class_size=args.min_class_size,
        segmenter=args.segmenter,
        char_source=args.char_source,
    )
    if args.C is not None:
        config = replace(config, C=args.C)
    if args.learner is not None:
        config = replace(config, learner=args.learner)
    if args.jobs is not None:
        config = replace(config, n_jobs=args.jobs)
    if args.feedback_weight is not None:
        config = replace(config, feedback_weight=args.feedback_weight)
    if args.feedback_holdout is not None:
        config = replace(config, feedback_holdout=args.feedback_holdout)
    if args.feedback_accepted is not None:
        config = replace(config, accepted_weight=args.feedback_accepted)
    result = train(
        frame, config, eval_frame=eval_frame, name=args.name, feedback=feedback, accepted=accepted
    )
    metrics = result.evaluation.to_dict()
    # The gate compares on the usual rows and on the held-out corrections; --activate
    # needs it to pass.
    review = None if current is None else review_candidate(current, result)
    current_version = None if current is None else current.version
    data = {**result.data, "files": [str(p) for p in args.data]}
    if "feedback" in data:
        data["feedback"] = {**data["feedback"], "source": _feedback_source(args.feedback)}
    if "accepted" in data:
        data["accepted"] = {**data["accepted"], "source": _feedback_source(args.feedback)}
    version = registry.save(
        result.model,
        name=args.name,
        metrics=metrics,
        data=data,
        config=config.to_dict(),
        activate=args.activate and (review is None or review.decision.passed),
    )
    active = registry.active(args.name)
    if report_dir is not None:
        plot_confusion(result.evaluation, report_dir / "confusion.png")
    feedback_metrics = (
        None if result.feedback_evaluation is None else result.feedback_evaluation.summary()
    )
    if args.json:
        _print_json(
            {
                "name": args.name,
                "version": version,
                "active": active is not None and active.version == version,
                "seconds": round(result.seconds, 2),
                "data": data,
                "metrics": metrics,
                "feedback_metrics": feedback_metrics,
                "gate": None if review is None else _gate_json(review, current_version),
            }
        )
        return 0
    summary = result.evaluation.summary()
    print(
        f"trained {args.name}@{version} in {result.seconds:.1f}s "
        f"on {result.data['train_rows']} rows"
    )
    if result.data["skipped"]:
        print(f"skipped rows: {result.data['skipped']}")
    print(
        f"held-out n={summary['n']}  accuracy={summary['accuracy']:.4f}  "
        f"macro-F1={summary['macro_f1']:.4f}  top-2={summary['top2_accuracy']:.4f}  "
        f"ECE={summary['ece']:.4f}"
    )
    if "feedback" in result.data:
        _print_feedback(result.data["feedback"], feedback_metrics)
    if "accepted" in result.data:
        counts = result.data["accepted"]
        print(
            f"accepted answers (nobody corrected them): {counts['rows']} rows, "
            f"{counts['used']} trained on (weight {counts['weight']:g})"
            + (f"; left out: {counts['left_out']}" if counts["left_out"] else "")
        )
    if review is not None:
        print(f"against the active {args.name}@{current_version}:")
        for line in _gate_lines(review):
            print(f"  {line}")
        print(review.decision)
        if eval_frame is None:
            print(
                "note: the usual rows were split off DATA, and the model in service may have "
                "trained on some of them; give --eval data it never saw for a fair comparison"
            )
    is_active = active is not None and active.version == version
    if args.activate and not is_active:
        print(f"not activated: {version} failed the promotion gate")
    print(
        f"active: {version}"
        if is_active
        else f"not activated (active: {active.version if active else 'none'}); "
        f"'appeals models activate {version} --name {args.name}' to serve it"
    )
    return 0


def _print_feedback(counts: dict[str, Any], metrics: dict[str, float] | None) -> None:
    print(
        f"corrections: {counts['rows']} rows, {counts['used']} trained on "
        f"(weight {counts['weight']:g}), {counts['held_out']} held out"
        + (
            " to measure it, then trained on too (the model saved learnt every correction)"
            if counts.get("refit")
            else ""
        )
        + (f"; new labels: {', '.join(counts['new_labels'])}" if counts["new_labels"] else "")
    )
    if counts["skipped"]:
        print(f"skipped corrections: {counts['skipped']}")
    if metrics is not None:
        print(
            f"held-out corrections n={metrics['n']}  accuracy={metrics['accuracy']:.4f}  "
            f"macro-F1={metrics['macro_f1']:.4f}"
        )


def _gate_lines(review: Any) -> list[str]:
    """The figures the gate decided by: current -> candidate, usual rows and corrections."""
    lines = []
    for what, comparison in (("usual rows", review.overall), ("corrections", review.feedback)):
        if comparison is None:
            continue
        table = comparison.overall
        figures = "  ".join(
            f"{metric} {table.at[metric, 'current']:.4f} -> {table.at[metric, 'candidate']:.4f}"
            for metric in ("accuracy", "macro_f1")
        )
        lines.append(f"{what}: {figures}")
    return lines


def _gate_json(review: Any, current_version: str | None) -> dict[str, Any]:
    return {
        "current": current_version,
        "passed": review.decision.passed,
        "reasons": list(review.decision.reasons),
        "current_metrics": review.current.summary(),
        "current_feedback_metrics": (
            None if review.current_feedback is None else review.current_feedback.summary()
        ),
    }


# --------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlp.analysis.plots import plot_calibration, plot_confusion, plot_coverage
    from nlp.evaluate import calibration_curve, score
    from nlp.io import read_tables

    report_dir = _report_dir(args)
    model = _load_model(args)
    frame = read_tables(args.data)
    text_col, title_col = _columns(frame, args)
    scored = score(
        model,
        frame,
        text_col=text_col,
        title_col=title_col,
        label_col=args.label_col,
    )
    evaluation = scored.evaluation()
    if report_dir is not None:
        name = f"{model.name}@{model.version}"
        plot_confusion(evaluation, report_dir / "confusion.png")
        plot_coverage({name: evaluation}, report_dir / "coverage.png")
        plot_calibration({name: calibration_curve(scored)}, report_dir / "reliability.png")
        (report_dir / "evaluation.json").write_text(
            json.dumps(evaluation.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    for warning in evaluation.warnings:  # on stderr, also with --json
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        _print_json(
            {"model": {"name": model.name, "version": model.version}, **evaluation.to_dict()}
        )
        return 0
    summary = evaluation.summary()
    print(f"model {model.name}@{model.version} on {summary['n']} tickets")
    if evaluation.skipped:
        print(f"skipped rows: {evaluation.skipped}")
    print(
        f"accuracy={summary['accuracy']:.4f}  macro-F1={summary['macro_f1']:.4f}  "
        f"top-2={summary['top2_accuracy']:.4f}  ECE={summary['ece']:.4f}"
    )
    print(f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in evaluation.per_class.items():
        print(
            f"{label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}"
            f"{row['f1']:>10.3f}{row['support']:>10d}"
        )
    print("coverage -> accuracy when tickets under the threshold go to a person:")
    for point in evaluation.coverage[::4]:
        print(
            f"  confidence >= {point['threshold']:.2f}: routes {point['coverage']:.1%}, "
            f"accuracy {point['accuracy']:.4f}"
        )
    if args.report_dir:
        print(
            f"report written to {args.report_dir}/ (confusion.png, coverage.png, "
            "reliability.png, evaluation.json)"
        )
    return 0


# --------------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    from nlp.documents import compose_document

    if compose_document(args.text, args.title) is None:
        raise DataError(
            "nothing to route: the text is missing, empty or white space and there is no "
            "--title; give the ticket's body, its --title, or both"
        )
    config = _dispatch_config(args)
    model = _load_model(args)
    dispatcher = config.load(labels=model.labels)
    [prediction] = model.classify(
        [args.text], [args.title], top_k=3, explain=args.explain, dispatcher=dispatcher
    )
    if args.json:
        _print_json(
            {**prediction.to_dict(), "model": {"name": model.name, "version": model.version}}
        )
        return 0
    print(f"{prediction.label}  (confidence {prediction.confidence:.2f})")
    for label, score in prediction.top_k:
        print(f"  {label:<14}{score:.3f}")
    if prediction.needs_review:
        print(f"needs review ({', '.join(prediction.review_codes)}): {prediction.review_reason}")
    if prediction.explanation:
        print("terms: " + "  ".join(f"{t.term}({t.weight:.2f})" for t in prediction.explanation))
    for line in _dispatch_lines(prediction):
        print(line)
    return 0


def _dispatch_lines(prediction: Any) -> list[str]:
    """The dispatch fields of an answer, one line each (those that are configured)."""
    lines = []
    if prediction.urgency is not None:
        urgency = prediction.urgency
        terms = f" [{'、'.join(urgency.terms)}]" if urgency.terms else ""
        lines.append(f"urgency: {urgency.level}: {urgency.reason}{terms}")
    if prediction.location is not None:
        where = prediction.location
        path = " / ".join(
            part for part in (where.district, where.street, where.community, where.grid) if part
        )
        mentions = "、".join(mention.text for mention in where.mentions)
        lines.append(
            f"place: {path or 'not in the gazetteer'}"
            + (f" ({where.place})" if where.place else "")
            + (f"; mentions: {mentions}" if mentions else "")
        )
    if prediction.dispatch is not None:
        routed = prediction.dispatch
        lead = routed.lead.unit if routed.lead else "none (no rule applies: a person decides)"
        assist = "、".join(unit.unit for unit in routed.assist) or "none"
        lines.append(f"lead unit: {lead}; assisting: {assist} ({routed.rule})")
    if prediction.problems is not None and len(prediction.problems) > 1:
        lines.append(f"problems: {len(prediction.problems)}")
        for number, answer in enumerate(prediction.problems, 1):
            problem = answer.problem
            lead = f" -> {answer.lead}" if answer.lead else ""
            lines.append(
                f"  {number}. {problem.label} ({problem.confidence:.2f}){lead}: {problem.text}"
            )
    return lines


def _dispatch_config(args: argparse.Namespace) -> Any:
    """The dispatcher's files: the options, else the service's settings
    (APPEALS_URGENCY_TERMS, APPEALS_URGENCY_VETO, APPEALS_GAZETTEER, APPEALS_GAZETTEER_CITY,
    APPEALS_ROUTING_TABLE, APPEALS_URGENCY, APPEALS_PROBLEMS)."""

    config = _settings().dispatch
    changes: dict[str, Any] = {}
    if args.urgency_terms is not None:
        changes["urgency_terms"] = str(args.urgency_terms)
    if args.urgency_veto is not None:
        changes["urgency_veto"] = args.urgency_veto
    if args.gazetteer is not None:
        changes["gazetteer"] = str(args.gazetteer)
    if args.city is not None:
        changes["city"] = args.city
    if args.routing is not None:
        changes["routing"] = str(args.routing)
    if args.urgency is not None:
        changes["urgency"] = args.urgency
    if args.problems is not None:
        changes["problems"] = args.problems
    return replace(config, **changes)


# --------------------------------------------------------------------------- models
def _figures(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"error: {row['error']}"
    metrics = row.get("metrics") or {}
    shown = {"macro_f1": "macro-F1", "accuracy": "accuracy"}
    return " ".join(
        f"{label}={metrics[key]:.4f}"
        for key, label in shown.items()
        if isinstance(metrics.get(key), int | float)
    )


def cmd_models(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if args.action == "list":
        # Every model of the registry, or the one --name names.
        names = [_known_model(registry, args.name)] if args.name else registry.names()
        listings = {name: registry.listing(name) for name in names}
        listed = [
            {
                "name": name,
                "active": listing.active.version if listing.active else None,
                "error": listing.error,
                "versions": listing.versions,
            }
            for name, listing in listings.items()
        ]
        if args.json:
            _print_json({"models_dir": str(args.models_dir), "models": listed})
            return 0
        if not listed:
            print(f"no models under {args.models_dir}; train one with 'appeals train DATA'")
            return 0
        for model in listed:
            print(f"{model['name']}:")
            rows = model["versions"]
            if not rows:
                print("  no versions")
            for row in rows:
                marker = "*" if row["active"] else " "
                created = row.get("created_at") or ""
                print(f"{marker} {row['version']:<6} {created:<26} {_figures(row)}".rstrip())
            if model["error"]:
                print(f"appeals models: warning: {model['error']}", file=sys.stderr)
        return 0
    if args.action in ("activate", "sign") and not args.version:
        raise DataError(f"'appeals models {args.action}' needs a VERSION, e.g. v2")
    args.name = _known_model(registry, args.name or _settings().model_name)
    if args.action == "sign":
        registry.sign(args.name, args.version)
        if args.json:
            _print_json({"name": args.name, "signed": args.version})
        else:
            print(f"{args.name}@{args.version}: signed")
        return 0
    if args.action == "activate":
        pointer = registry.activate(args.name, args.version)
    else:
        pointer = registry.rollback(args.name)
    if args.json:
        _print_json({"name": args.name, "active": pointer.version})
    else:
        print(f"{args.name}: active version is now {pointer.version}")
    return 0


# --------------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    from nlp.registry import check_model_name
    from service.server import serve  # uvicorn: only `appeals serve` pays for it

    check_model_name(args.model)
    _prepare_store(args)
    _check_dispatch(args)
    return serve(
        host=args.host,
        port=args.port,
        workers=args.workers,
        models_dir=args.models_dir,
        model_name=args.model,
    )


def _check_dispatch(args: argparse.Namespace) -> None:
    """Before the workers start: read the urgency terms, gazetteer and routing table the
    settings name and check them against the active version's labels (from its manifest),
    so that a bad file stops the start with its file and line instead of every worker
    refusing the model."""
    from nlp.errors import ModelIntegrityError

    registry = _registry(args)
    try:
        version = registry.active_version(args.model)
    except (ModelNotFoundError, ModelIntegrityError):
        return  # no model to serve yet: the workers say so, and check the files on load
    labels = registry.manifest(args.model, version).get("labels", [])
    _settings().dispatch.load(labels=labels)


def _prepare_store(args: argparse.Namespace) -> None:
    """Before the workers start: create the ticket store's schema in an empty database (once,
    not once per worker), and refuse to start on a schema this version cannot use. A store
    that cannot be reached does not stop the service (classification never depends on it):
    a warning says so, and the workers store answers once it is back."""
    from nlp.errors import StoreSchemaError
    from nlp.store import TicketStore, describe_url

    url = _settings().store_location_in(args.models_dir)
    if url is None:
        return
    try:
        TicketStore(url).open(create=True).close()
    except StoreSchemaError:
        raise
    except AppealRouterError as error:
        print(
            f"appeals serve: warning: {error}; serving without storing answers until "
            f"{describe_url(url)} can be reached",
            file=sys.stderr,
        )


# --------------------------------------------------------------------------- tag
def cmd_tag(args: argparse.Namespace) -> int:
    import os

    from nlp.registry import parse_model_ref
    from nlp.tagging.run import TagInterrupted, TagWorkerLostError, tag_file

    name, version = parse_model_ref(args.model)
    _known_model(_registry(args), name)
    if args.jobs is not None:
        jobs = args.jobs  # the library refuses fewer than 1, saying so
    else:
        jobs = 1 if args.engine == "local" else os.cpu_count() or 1
    # Progress: tqdm on a terminal, else a log line every 30 s (shown without -v too).
    logging.getLogger("nlp.tagging").setLevel(logging.INFO)
    # A stopped run ends with one line: what it kept and the command that continues it.
    again = f"continue with: {_resume_command(args)}"
    try:
        summary = tag_file(
            args.input,
            args.out,
            models_dir=args.models_dir,
            model_name=name,
            model_version=version,
            text_col=args.text_col or "text",
            title_col=args.title_col or "title",
            title_required=args.title_col is not None,
            chunk_size=args.chunk_size,
            jobs=jobs,
            engine=args.engine,
            scheduler=args.scheduler,
            resume=args.resume,
            csv_encoding=args.csv_encoding,
            signing_key=_signing_key(),
            dispatch=_dispatch_config(args),
        )
    except TagInterrupted as stopped:
        print(f"appeals tag: {stopped}; {again}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before tagging started
        print(f"appeals tag: interrupted before any chunk was tagged; {again}", file=sys.stderr)
        return 130
    except TagWorkerLostError as error:
        print(f"appeals tag: error: {error}; {again}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(summary.to_dict())
        return 0
    print(
        f"tagged {summary.rows} rows into {summary.output} with {summary.model} "
        f"({summary.engine}) in {summary.seconds:.1f}s"
    )
    if summary.resumed_chunks:
        print(f"resumed: {summary.resumed_chunks} of {summary.chunks} chunks were already done")
    if summary.errors:
        listed = ", ".join(f"{error}={count}" for error, count in sorted(summary.errors.items()))
        print(f"rows kept untagged, see the error column: {listed}")
    return 0


def _resume_command(args: argparse.Namespace) -> str:
    """The `appeals tag` command that continues this run: its input, output and every
    option a resumed run must repeat, then --resume."""
    import shlex

    words = ["appeals", "tag", str(args.input), "--out", str(args.out)]
    options = [
        ("--model", args.model),
        ("--models-dir", args.models_dir),
        ("--text-col", args.text_col),
        ("--title-col", args.title_col),
        ("--chunk-size", args.chunk_size),
        ("--jobs", args.jobs),
        ("--engine", None if args.engine == "local" else args.engine),
        ("--scheduler", args.scheduler),
        ("--csv-encoding", None if args.csv_encoding == "utf-8-sig" else args.csv_encoding),
        ("--urgency-terms", args.urgency_terms),
        ("--urgency-veto", args.urgency_veto),
        ("--gazetteer", args.gazetteer),
        ("--city", args.city),
        ("--routing", args.routing),
    ]
    for flag, value in options:
        if value is not None:
            words += [flag, str(value)]
    words += [
        f"--{'' if value else 'no-'}{name}"
        for name, value in (("urgency", args.urgency), ("problems", args.problems))
        if value is not None
    ]
    if args.json:
        words.append("--json")
    return shlex.join([*words, "--resume"])


# --------------------------------------------------------------------------- parser
def _number(accepts: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type: a finite number that ``accepts``; else an error saying ``what``."""

    def parse(text: str) -> float:
        import math

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and accepts(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse


#: ``--C``, retention days, weights.
_positive_number = _number(lambda value: value > 0, "a number above 0")


def _jobs(text: str) -> int:
    """``--jobs``: -1 (every core) or a whole number from 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be -1 (every core) or at least 1, not {text!r}")
    return value


#: ``--feedback-holdout``.
_share = _number(lambda value: 0 <= value < 1, "from 0 up to (not including) 1")
#: Drift bounds (``appeals monitor``).
_bound = _number(lambda value: 0 <= value <= 1, "a share from 0 to 1 (0.10 = 10 %)")
#: ``--urgency-veto``: under the urgency model's threshold of 紧急 (0.5).
_veto = _number(lambda value: 0 <= value < 0.5, "from 0 up to (not including) 0.5")


def _int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no upper bound: None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return parse


# --------------------------------------------------------------------------- store, feedback
def _store_url(args: argparse.Namespace) -> str:
    """``--store``, else APPEALS_STORE_URL, else the SQLite file the service keeps beside the
    models (``--models-dir``); an error when the store is off."""
    given = getattr(args, "store", None)
    url = str(given) if given else _settings().store_location_in(args.models_dir)
    if url is None:
        raise DataError(
            "the ticket store is off (APPEALS_STORE_URL=off); name one with --store URL"
        )
    return url


def cmd_store(args: argparse.Namespace) -> int:
    from nlp.store import TicketStore

    with TicketStore(_store_url(args)) as store:
        return _store_action(args, store)


def _store_action(args: argparse.Namespace, store: Any) -> int:
    from nlp.store import describe_url

    shown = describe_url(store.url)
    if args.action == "upgrade":
        before, after = store.upgrade()
        done = "already at" if before == after else f"upgraded from {before or 'empty'} to"
        print(f"ticket store {shown}: {done} schema {after}")
        return 0
    if args.action == "status":
        revision = store.revision()
        head = store.head_revision()
        counts = store.open(create=False).counts() if revision == head else {}
        status = {"store": shown, "schema": revision, "code_schema": head, **counts}
        if args.json:
            _print_json(status)
        else:
            print("\n".join(f"{key}: {value}" for key, value in status.items()))
        return 0 if revision == head else 1
    # purge
    store.open(create=False)
    if args.older_than is not None:
        deleted = store.purge_older_than(args.older_than)
        print(f"deleted {deleted} ticket(s) answered more than {args.older_than:g} days ago")
        return 0
    ids = list(args.id or [])
    if args.ids_file:
        from nlp.io import read_table

        frame = read_table(args.ids_file)
        require = args.id_col
        if require not in frame.columns:
            raise DataError(
                f"{args.ids_file}: no column {require!r}; the file has "
                f"{', '.join(map(str, frame.columns))}; name it with --id-col"
            )
        ids += [str(value) for value in frame[require].tolist() if str(value).strip()]
    if not ids:
        raise DataError("name the tickets to delete: --id ID, --ids-file FILE or --older-than N")
    deleted = store.purge(ids)
    print(f"deleted {deleted} of {len(ids)} ticket(s) from {shown}")
    if deleted < len(set(ids)):
        print(f"{len(set(ids)) - deleted} id(s) were not stored (never answered, or purged)")
    return 0


def _known_labels(args: argparse.Namespace) -> list[str] | None:
    """The departments the active version of ``--model`` knows (None with
    ``--allow-new-label``: any department is taken)."""
    if args.allow_new_label:
        return None
    from nlp.registry import parse_model_ref

    registry = _registry(args)
    name, version = parse_model_ref(args.model)
    name = _known_model(registry, name)
    if version is None:
        pointer = registry.active(name)
        if pointer is None:
            raise ModelNotFoundError(
                f"model {name!r} has no active version whose departments the corrections "
                "could be checked against; activate one, or pass --allow-new-label"
            )
        version = pointer.version
    labels: list[str] = registry.manifest(name, version).get("labels", [])
    return labels


def cmd_feedback(args: argparse.Namespace) -> int:
    from nlp.store import TicketStore

    with TicketStore(_store_url(args)) as store:
        if args.action == "import":
            return _feedback_import(args, store)
        if args.action == "queue":
            return _feedback_queue(args, store)
        return _feedback_export(args, store)


def _feedback_queue(args: argparse.Namespace, store: Any) -> int:
    from nlp.analysis.labelling import label_queue
    from nlp.tagging.output import output_format, write_frame

    if args.out is None:
        raise DataError("name the output: appeals feedback queue --out FILE.csv (for Excel)")
    output_format(args.out)  # an unknown extension fails before the database is read
    tickets = store.open(create=False).tickets()
    queue = label_queue(tickets, limit=args.limit, since=_day(args.since))
    write_frame(queue, args.out)
    considered = queue.attrs["considered"]
    if args.json:
        _print_json({"considered": considered, "written": len(queue), "out": str(args.out)})
        return 0
    print(
        f"{len(queue)} of {considered} ticket(s) without a final department written to "
        f"{args.out} (personal data masked), best first"
    )
    if len(queue):
        print(
            "fill in the label column and load it back: "
            f"appeals feedback import {args.out} (rows left blank are listed as rejected)"
        )
    return 0


def _feedback_import(args: argparse.Namespace, store: Any) -> int:
    from nlp.io import read_table
    from nlp.store.feedback import import_corrections
    from nlp.tagging.output import write_frame

    if args.file is None:
        raise DataError("name the file of corrections: appeals feedback import FILE")
    frame = read_table(args.file)
    report = import_corrections(
        store.open(create=False),
        frame,
        id_col=args.id_col,
        label_col=args.label_col,
        known_labels=_known_labels(args),
        allow_new_label=args.allow_new_label,
        source=f"import:{Path(args.file).name}"[:128],
    )
    rejects = None
    if len(report.rejected):
        rejects = Path(args.rejects or Path(args.file).with_suffix(".rejected.csv"))
        write_frame(report.rejected, rejects)
    summary = {
        "rows": report.rows,
        "stored": report.stored,
        "rejected": len(report.rejected),
        "rejects_file": str(rejects) if rejects else None,
    }
    if args.json:
        _print_json(summary)
    else:
        print(f"{report.stored} of {report.rows} correction(s) stored")
        if rejects is not None:
            reasons = report.rejected["reason"].value_counts()
            print(f"{len(report.rejected)} row(s) rejected, written with the reason to {rejects}:")
            for reason, count in reasons.items():
                print(f"  {count:>6}  {reason}")
    return 1 if rejects is not None else 0


def _feedback_export(args: argparse.Namespace, store: Any) -> int:
    from nlp.tagging.output import output_format, write_frame

    if args.out is None:
        raise DataError("name the output: appeals feedback export --out FILE (.csv, .parquet)")
    output_format(args.out)  # an unknown extension fails before the database is read
    store.open(create=False)
    if args.all:
        frame = store.tickets(since=_day(args.since), until=_day(args.until))
    else:
        frame = store.corrections()
    write_frame(frame, args.out)
    what = "ticket(s)" if args.all else "correction(s)"
    print(f"{len(frame)} {what} written to {args.out} (personal data masked)")
    return 0


def cmd_hotspots(args: argparse.Namespace) -> int:
    from nlp.hotspots import hotspots, write_report

    gazetteer = None
    if args.gazetteer is not None:
        from nlp.location import Gazetteer

        gazetteer = Gazetteer.from_csv(args.gazetteer, city=args.city)
    report = hotspots(
        args.data,
        id_col=args.id_col,
        time_col=args.time_col,
        text_col=args.text_col or "text",
        title_col=args.title_col or "title",
        since=args.since,
        until=args.until,
        window=args.window,
        top=args.top,
        min_size=args.min_size,
        gazetteer=gazetteer,
        jobs=args.jobs,
    )
    start, end = report.period
    grouped = int(report.rows["group"].notna().sum())
    print(
        f"{len(report.rows)} tickets, {start:%Y-%m-%d} to {end:%Y-%m-%d}: {len(report.groups)} "
        f"hot spot(s) of {args.min_size} or more tickets ({grouped} tickets)"
    )
    for note in report.notes:
        print(note)
    if not report.problems.empty:
        print(report.problems.to_string(index=False))
    if args.out is not None:
        for path in write_report(report, args.out):
            print(f"wrote {path}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from nlp.analysis.monitor import daily_summary, drift_alerts, training_distribution
    from nlp.store import utc_now

    since = _day(args.since)
    if since is None:
        today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=args.days - 1)
    from nlp.store import TicketStore

    with TicketStore(_store_url(args)) as store:
        tickets = store.open(create=False).tickets(since=since)
    summary = daily_summary(tickets)
    registry = _registry(args)
    training: dict[str, dict[str, float]] = {}
    for name, version in (
        summary[["model_name", "model_version"]].drop_duplicates().itertuples(index=False)
    ):
        try:
            training[version] = training_distribution(registry.manifest(name, version))
        except AppealRouterError as error:  # a version deleted since, or damaged
            logger.warning("no training distribution for %s@%s: %s", name, version, error)
            training[version] = {}
    alerts = drift_alerts(
        summary,
        training_shares=training,
        share_bound=args.share_bound,
        correction_bound=args.correction_bound,
        min_tickets=args.min_tickets,
        min_final=args.min_final,
    )
    if args.json:
        rows = summary.astype(object).where(summary.notna(), None).to_dict(orient="records")
        _print_json({"since": since.isoformat(), "days": rows, "alerts": alerts})
    else:
        print(_monitor_table(summary, since))
        bounds = (
            f"shares beyond ±{args.share_bound * 100:g} points of training, correction rate "
            f"above {args.correction_bound:.0%}"
        )
        if alerts:
            print(f"\n{len(alerts)} alert(s) ({bounds}):")
            print("\n".join(f"  {line}" for line in alerts))
        else:
            print(f"\nno alerts ({bounds})")
    return 1 if alerts else 0


def _monitor_table(summary: Any, since: Any) -> str:
    if summary.empty:
        return f"no tickets answered since {since:%Y-%m-%d %H:%M} (UTC)"
    shown = summary.assign(
        review=summary["review_rate"].map("{:.0%}".format),
        confidence=summary["mean_confidence"].map("{:.2f}".format),
        corrected=[
            "-" if final == 0 else f"{rate:.0%}"
            for final, rate in zip(summary["final"], summary["correction_rate"], strict=True)
        ],
        departments=summary["shares"].map(
            lambda shares: ", ".join(
                f"{label} {share:.0%}" for label, share in list(shares.items())[:3]
            )
        ),
    )
    columns = ["day", "model_version", "tickets", "review", "confidence", "final", "corrected"]
    table = shown[[*columns, "departments"]].rename(
        columns={"model_version": "version", "departments": "top departments"}
    )
    return str(table.to_string(index=False, justify="left"))


def _day(value: str | None) -> Any:
    if value is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise DataError(
            f"{value!r} is not a date; write it as 2026-12-01 or 2026-12-01T08:00"
        ) from None


def _data_columns(parser: argparse.ArgumentParser, *, labels: bool) -> None:
    parser.add_argument(
        "--text-col", default=None, help="column with the ticket body (default: 'text')"
    )
    parser.add_argument(
        "--title-col",
        default=None,
        help="column with the ticket title (default: 'title' if present)",
    )
    if labels:
        parser.add_argument("--label-col", default="label", help="column with the department")


_MODELS_DIR_HELP = "the model registry (default: APPEALS_MODELS_DIR, else models)"


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="the ticket store's URL (default: APPEALS_STORE_URL, else tickets.db in the "
        "models folder)",
    )


def _dispatch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "dispatch", "urgency, place, lead and assisting units, several problems"
    )
    group.add_argument(
        "--urgency-terms",
        type=Path,
        default=None,
        help="urgency term list, TOML (default: APPEALS_URGENCY_TERMS, else the shipped one)",
    )
    group.add_argument(
        "--urgency-veto",
        type=_veto,
        default=None,
        metavar="P",
        help="the urgency model overrules the terms' 紧急 under this probability of 紧急 "
        "(0: never; default: APPEALS_URGENCY_VETO, else the library's default)",
    )
    group.add_argument(
        "--urgency",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the urgency field (default: APPEALS_URGENCY, else off)",
    )
    group.add_argument(
        "--gazetteer",
        type=Path,
        default=None,
        help="the city's gazetteer, CSV (default: APPEALS_GAZETTEER; unset: no location)",
    )
    group.add_argument(
        "--city", default=None, help="the gazetteer's city (default: APPEALS_GAZETTEER_CITY)"
    )
    group.add_argument(
        "--routing",
        type=Path,
        default=None,
        help="routing table, TOML (default: APPEALS_ROUTING_TABLE; unset: no dispatch)",
    )
    group.add_argument(
        "--problems",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="look for several problems in a ticket (default: APPEALS_PROBLEMS, else off)",
    )


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="NAME[@VERSION] (default: APPEALS_MODEL_NAME, else default; its active version)",
    )
    parser.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appeals", description="Route residents' appeals to the department that handles them."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--version", action="version", version=f"appeals {_package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train, evaluate and register a model version")
    train.add_argument("data", nargs="+", type=Path, help="CSV, XLSX, Parquet or JSONL files")
    _data_columns(train, labels=True)
    train.add_argument("--eval", nargs="+", type=Path, help="evaluate on these files instead")
    train.add_argument(
        "--name", default=None, help="model name (default: APPEALS_MODEL_NAME, else default)"
    )
    train.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)
    train.add_argument("--activate", action="store_true", help="activate the new version")
    train.add_argument("--min-class-size", type=int, default=5)
    train.add_argument("--segmenter", choices=["rjieba", "jieba"], default="rjieba")
    train.add_argument(
        "--char-source",
        choices=["text", "words"],
        default="text",
        help="character n-grams from the text (default) or inside words (better on bodies alone)",
    )
    train.add_argument(
        "--learner",
        choices=["svm", "svm+nbsvm"],
        default=None,
        help="linear SVM alone, or with NB-SVM folded into the same weights (the default)",
    )
    train.add_argument(
        "--C", type=_positive_number, default=None, help="SVM regularisation (default 1.0)"
    )
    train.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="processes fitting the model and its calibration folds at once on big data "
        "(default 1; -1: one per core); the model is the same",
    )
    train.add_argument(
        "--feedback",
        nargs="?",
        const=_THE_STORE,
        default=None,
        metavar="SOURCE",
        help="dispatchers' corrections as extra training data: alone, the service's ticket "
        "store (APPEALS_STORE_URL, else tickets.db in the models folder); or a ticket store "
        "URL; or a file (CSV, XLSX, JSONL, Parquet; columns id, text, title, label, as "
        "'appeals feedback export' writes); with an active model, --activate then needs the "
        "promotion gate to pass, held-out corrections included",
    )
    train.add_argument(
        "--feedback-weight",
        type=_positive_number,
        default=None,
        help="how many times a correction counts against a row of DATA (default 2)",
    )
    train.add_argument(
        "--feedback-holdout",
        type=_share,
        default=None,
        help="share of corrections held out to evaluate on, chosen by ticket id (default 0.2); "
        "after they measured the model, the model saved is trained on them too",
    )
    train.add_argument(
        "--feedback-accepted",
        type=_positive_number,
        default=None,
        metavar="WEIGHT",
        help="also train on the stored answers nobody corrected, labelled with the model's "
        "answer, each counting WEIGHT (e.g. 0.5); needs --feedback from a ticket store; it "
        "assumes dispatchers correct every answer they see wrong",
    )
    train.add_argument("--report-dir", type=Path, help="write confusion.png here")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="score a model on labelled data")
    evaluate.add_argument("data", nargs="+", type=Path)
    _data_columns(evaluate, labels=True)
    _model_options(evaluate)
    evaluate.add_argument(
        "--report-dir",
        type=Path,
        help="write PNG plots (confusion, coverage, reliability diagram) and JSON here",
    )
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser("predict", help="route one ticket")
    predict.add_argument("text", nargs="?", default=None, help="the ticket's body")
    predict.add_argument("--title", default=None, help="the ticket's title (body, title or both)")
    _model_options(predict)
    predict.add_argument("--explain", type=int, default=6, help="how many terms to show")
    predict.add_argument("--json", action="store_true")
    _dispatch_options(predict)
    predict.set_defaults(handler=cmd_predict)

    models = commands.add_parser("models", help="list, activate, roll back or sign model versions")
    models.add_argument("action", choices=["list", "activate", "rollback", "sign"])
    models.add_argument(
        "version",
        nargs="?",
        help="with activate: the version, e.g. v2 (loaded and tried before it is activated); "
        "with sign: the version to sign with APPEALS_SIGNING_KEY (only one you trust)",
    )
    models.add_argument(
        "--name",
        default=None,
        help="the model (default: list every model; activate, roll back and sign "
        "APPEALS_MODEL_NAME, else default)",
    )
    models.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=cmd_models)

    tag = commands.add_parser("tag", help="tag a file of tickets (streamed, resumable)")
    tag.add_argument("input", type=Path, help="CSV, XLSX, Parquet (file or folder) or JSONL")
    tag.add_argument("--out", required=True, type=Path, help="output: .parquet, .csv or .jsonl")
    _model_options(tag)
    _data_columns(tag, labels=False)
    tag.add_argument("--chunk-size", type=int, default=2_000, help="rows per chunk")
    tag.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes that tag, this one included, or Dask workers (local: 1; dask: CPUs)",
    )
    tag.add_argument("--engine", choices=["local", "dask"], default="local")
    tag.add_argument("--scheduler", default=None, help="Dask scheduler, e.g. tcp://host:8786")
    tag.add_argument("--resume", action="store_true", help="continue a run that was stopped")
    tag.add_argument(
        "--csv-encoding",
        choices=["utf-8-sig", "utf-8"],
        default="utf-8-sig",
        help="a CSV output's encoding: utf-8-sig (with a BOM, for Excel; default) or utf-8",
    )
    tag.add_argument("--json", action="store_true", help="print one JSON object")
    _dispatch_options(tag)
    tag.set_defaults(handler=cmd_tag)

    serve = commands.add_parser("serve", help="start the HTTP API (uvicorn, uvloop + httptools)")
    serve.add_argument("--host", default="127.0.0.1", help="needs API keys unless loopback")
    serve.add_argument("--port", type=_int_between(0, 65535), default=8000)
    serve.add_argument("--workers", type=_int_between(1), default=1, help="processes (default 1)")
    serve.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)
    serve.add_argument(
        "--model",
        default=None,
        help="model NAME to serve (default: APPEALS_MODEL_NAME, else default)",
    )
    serve.set_defaults(handler=cmd_serve)

    store = commands.add_parser(
        "store", help="the ticket store: create or upgrade its schema, status, delete tickets"
    )
    store.add_argument("action", choices=["upgrade", "status", "purge"])
    _store_option(store)
    store.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)
    store.add_argument("--id", action="append", help="purge: a ticket id (repeat for more)")
    store.add_argument("--ids-file", type=Path, help="purge: a file with a column of ids")
    store.add_argument("--id-col", default="id", help="purge: the ids' column (default id)")
    store.add_argument(
        "--older-than", type=_positive_number, help="purge: every ticket older than N days"
    )
    store.add_argument("--json", action="store_true")
    store.set_defaults(handler=cmd_store)

    feedback = commands.add_parser(
        "feedback",
        help="dispatchers' corrections: import them from a file, export them, and the "
        "queue of tickets to label next",
    )
    feedback.add_argument("action", choices=["import", "export", "queue"])
    feedback.add_argument(
        "file", nargs="?", type=Path, help="import: CSV, XLSX, Parquet or JSONL (id, department)"
    )
    _store_option(feedback)
    _model_options(feedback)
    feedback.add_argument("--id-col", default="id", help="import: the ticket ids' column")
    feedback.add_argument(
        "--label-col", default="label", help="import: the final departments' column"
    )
    feedback.add_argument(
        "--allow-new-label",
        action="store_true",
        help="import: accept departments the model does not know",
    )
    feedback.add_argument(
        "--rejects", type=Path, help="import: where rejected rows go (default FILE.rejected.csv)"
    )
    feedback.add_argument(
        "--out", type=Path, help="export, queue: .csv (for Excel), .parquet, .jsonl"
    )
    feedback.add_argument(
        "--all", action="store_true", help="export: every stored ticket, not only the corrected"
    )
    feedback.add_argument(
        "--limit",
        type=_int_between(1),
        default=50,
        help="queue: how many tickets (default 50), the most instructive first",
    )
    feedback.add_argument(
        "--since", help="export --all, queue: answered from this date (UTC), e.g. 2026-12-01"
    )
    feedback.add_argument("--until", help="export --all: answered before this date (UTC)")
    feedback.add_argument("--json", action="store_true")
    feedback.set_defaults(handler=cmd_feedback)

    monitor = commands.add_parser(
        "monitor",
        help="per day and model version: tickets, review rate, confidence, correction rate, "
        "departments' shares against training; alert lines (exit 1 when one fires)",
        description="Reads the ticket store. Exit status: 0 no alert, 1 at least one alert "
        "(for cron and CI), 2 an error.",
    )
    _store_option(monitor)
    monitor.add_argument("--models-dir", default=None, type=Path, help=_MODELS_DIR_HELP)
    monitor.add_argument("--days", type=_int_between(1), default=7, help="the last N days (7)")
    monitor.add_argument("--since", help="from this date (UTC) instead of --days")
    monitor.add_argument(
        "--share-bound",
        type=_bound,
        default=0.10,
        help="alert when a department's share is further than this from training "
        "(0.10 = 10 points)",
    )
    monitor.add_argument(
        "--correction-bound",
        type=_bound,
        default=0.10,
        help="alert when the correction rate is above this (0.10 = 10 %%)",
    )
    monitor.add_argument(
        "--min-tickets",
        type=_int_between(1),
        default=30,
        help="no share alert for a day with fewer tickets (30)",
    )
    monitor.add_argument(
        "--min-final",
        type=_int_between(1),
        default=10,
        help="no correction-rate alert for a day with fewer final departments (10)",
    )
    monitor.add_argument("--json", action="store_true", help="print one JSON object")
    monitor.set_defaults(handler=cmd_monitor)

    hot = commands.add_parser(
        "hotspots",
        help="hot spots: tickets about the same problem at the same place, ranked by heat "
        "(热点问题表, 热点问题留言明细表)",
        description="Groups a file's tickets (columns id, time, text and/or title; user, "
        "likes, dislikes when present) and prints the hottest; --out writes both tables as "
        "CSV (for Excel) and Parquet.",
    )
    hot.add_argument("data", type=Path, help="tickets: CSV, Excel, JSONL or Parquet")
    hot.add_argument("--since", help="from this date (e.g. 2019-11-01)")
    hot.add_argument("--until", help="before this date")
    hot.add_argument(
        "--window",
        default="7d",
        help="the longest gap between two linked tickets: 7d, 36h, 2w (default 7d)",
    )
    hot.add_argument("--top", type=_int_between(1), default=5, help="hot spots to show (5)")
    hot.add_argument(
        "--min-size", type=_int_between(2), default=3, help="fewest tickets of a hot spot (3)"
    )
    hot.add_argument("--out", type=Path, default=None, help="folder for the two tables")
    hot.add_argument("--id-col", default="id", help="column with the ticket number (id)")
    hot.add_argument("--time-col", default="time", help="column with the ticket's time (time)")
    _data_columns(hot, labels=False)
    hot.add_argument(
        "--gazetteer", type=Path, default=None, help="the city's gazetteer (CSV) for places"
    )
    hot.add_argument("--city", default=None, help="the city's name, with --gazetteer")
    hot.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="processes that prepare the tickets while this one groups them (default 1; -1: "
        "one per core; at most one per 2,000 tickets); the answer is the same for any number",
    )
    hot.set_defaults(handler=cmd_hotspots)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error argparse has printed
        return stop.code if isinstance(stop.code, int) else 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        _apply_settings(args)
        return handler(args)
    except AppealRouterError as error:
        print(f"appeals {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file the command was pointed at that the system refuses (a folder that cannot
        # be created, a disk that is full): the user's to fix, so one line, no traceback.
        print(f"appeals {args.command}: error: {_describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _describe_os_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename is not None else ""
    reason = (error.strerror or str(error)).lower()
    return f"{where}{reason}; check the path, its folder and their permissions"


if __name__ == "__main__":
    raise SystemExit(main())
