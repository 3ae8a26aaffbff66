"""``per patient enrol --file``: run a bulk enrolment and render its rows, progress and summary.

Imported only when a file is enrolled (``commands.patient`` stays light for ``--help`` and TAB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from per_cli.cli.app import App

#: rows named one by one on stderr (rejected, differing, updated); the rest are counted, and all are in JSON
MAX_LINES = 20
COUNTS = ("read", "created", "updated", "unchanged", "differs", "rejected")


def enrol_file_command(app: App, args: dict[str, Any], fmt: str) -> None:
    """Run a bulk enrolment (``args``: the fields of ``BulkOptions``); Ctrl-C ends it with exit 130, saying how far
    it got (whole chunks are written, so a re-run of the same command finishes the job)."""
    from per_cli.cli.output import emit
    from per_cli.errors import Interrupted, PartialFailure
    from per_cli.patients.enrolment.bulk import BulkOptions, enrol_file
    from per_cli.patients.enrolment.rows import Summary

    detailed = fmt in ("json", "jsonl")
    rejects: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    shown = {"rejected": 0, "changed": 0}
    written = 0

    def on_reject(line: int, reason: str) -> None:
        shown["rejected"] += 1
        if detailed:
            rejects.append({"line": line, "reason": reason})
        if shown["rejected"] <= MAX_LINES:
            app.say(f"line {line}: {reason}")

    def on_warning(line: int, warning: str) -> None:
        if detailed:
            warnings.append({"line": line, "warning": warning})
        app.warn(f"line {line}: {warning}")

    def on_difference(line: int, outcome: str, fields: list[str]) -> None:
        shown["changed"] += 1
        if detailed:
            differences.append({"line": line, "outcome": outcome, "fields": fields})
        if shown["changed"] <= MAX_LINES:
            if outcome == "differs":
                app.say(f"line {line}: differs from the register in {', '.join(fields)}; kept (--on-existing update)")
            else:
                app.say(f"line {line}: {'would update' if args.get('dry_run') else 'updated'} {', '.join(fields)}")

    options = BulkOptions(**args)
    try:
        with app.progress("enrolling") as progress:

            def on_progress(summary: Summary, fraction: float | None, total: int | None) -> None:
                nonlocal written
                written = summary.created + summary.updated
                of = f" of ~{total:,}" if total else ""
                progress.update(
                    f"{summary.read:,}{of} rows, {summary.created:,} created, {summary.rejected:,} rejected, "
                    + progress.pace(summary.read, fraction)
                )

            summary = enrol_file(
                app,
                options,
                on_reject=on_reject,
                on_warning=on_warning,
                on_progress=on_progress,
                on_difference=on_difference,
            )
    except KeyboardInterrupt:
        if options.dry_run:
            raise Interrupted("interrupted: a dry run, nothing was changed") from None
        raise Interrupted(f"interrupted: {written:,} rows written; re-run the same command to finish") from None
    _more(app, shown["rejected"], "rejected rows", args.get("rejects"))
    _more(app, shown["changed"], "rows that differ from the register", None)
    record = summary.as_record()
    if args.get("rejects") == "-":  # stdout holds the rejected rows: the summary goes to stderr
        app.note(", ".join(f"{k} {record[k]}" for k in COUNTS))
    elif fmt == "table":
        emit([{k: record[k] for k in COUNTS}], fmt)
        if summary.dry_run:
            app.note("(dry run: nothing was changed)")
    elif detailed:
        emit([{**record, "rejects": rejects, "row_warnings": warnings, "differences": differences}], fmt, single=True)
    else:
        emit([record], fmt, single=True)
    if summary.rejected:
        raise PartialFailure(f"{summary.rejected} of {summary.read} rows were rejected")


def _more(app: App, count: int, what: str, rejects: str | None) -> None:
    if count > MAX_LINES:
        if rejects:
            where = f"all are in {rejects}"
        elif what == "rejected rows":
            where = "use --rejects FILE to get them all"
        else:
            where = "--format json lists them all"
        app.say(f"… and {count - MAX_LINES} more {what} ({where})")
