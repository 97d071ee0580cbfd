"""`flask import members FILE`: bring the brand's existing customers in from a CSV or JSON-lines export."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import AppGroup

from app.errors import ApiError
from onboarding import importer

import_cli = AppGroup("import", help="Import the brand's existing customers.")


@import_cli.command("members")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row (the database too) and write nothing but the report.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Default: from the file name (.jsonl/.ndjson/.json are JSON lines, anything else CSV).")
@click.option("--chunk-size", type=click.IntRange(1, 20_000), default=importer.CHUNK, show_default=True,
              help="Rows per transaction.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every refused row (row, external_id, field, reason) to this CSV file.")
def members(path: Path, dry_run: bool, fmt: str | None, chunk_size: int, report: Path | None) -> None:
    """Import members from PATH; run it again after a crash and it continues where it stopped."""
    with path.open("rb") as stream:
        try:
            batch, resumed = importer.open_file_batch(stream, path.name, fmt, dry_run=dry_run)
        except ApiError as error:
            raise click.ClickException(error.message) from None
        if resumed:
            click.echo(f"resuming batch {batch.id} after row {batch.rows_done} of {batch.rows_total}")
        done = {"rows": batch.rows_done}
        with click.progressbar(length=batch.rows_total, label=f"batch {batch.id}", show_pos=True,
                               show_percent=True) as bar:
            bar.update(done["rows"])

            def advance(progress) -> None:
                bar.update(max(0, min(progress.rows_done, batch.rows_total) - done["rows"]))
                done["rows"] = progress.rows_done

            try:
                batch = importer.run(batch.id, stream, chunk_size=chunk_size, on_chunk=advance)
            except ApiError as error:
                raise click.ClickException(error.message) from None
    verb = "would import" if batch.dry_run else "imported"
    click.echo(f"batch {batch.id}{' (dry run)' if batch.dry_run else ''}: {verb} {batch.imported}, "
               f"skipped {batch.skipped} already imported, refused {batch.failed} rows; "
               f"opening points {batch.points}")
    shown = 0
    with _report_file(report) as writer:
        for error in importer.all_errors(batch.id):
            if writer is not None:
                writer.writerow([error.row_number, error.external_id or "", error.field, error.reason])
            if shown < 20:
                click.echo(f"  row {error.row_number} ({error.external_id or '-'}) {error.field}: {error.reason}")
            shown += 1
    if shown > 20:
        click.echo(f"  ... and {shown - 20} more" + (f" (all in {report})" if report else " (--report FILE for all)"))


@contextmanager
def _report_file(path: Path | None) -> Iterator:
    """A CSV writer for --report, or None without it."""
    if path is None:
        yield None
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "external_id", "field", "reason"])
        yield writer


commands = [import_cli]
