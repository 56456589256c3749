"""Progress of a run over many files, on stderr, so that stdout stays the report.

On a terminal: a rich progress bar (rich is maintained, handles wide characters, and keeps what is
printed to stdout above the bar). Otherwise (a pipe, a log file, CI): one plain line per file,
``[37/116] name``. With ``--quiet``: nothing. A run of one file shows no progress.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import click

from .textsafe import safe


class Progress:
    """``with Progress(total) as p: … p.advance(name); p.echo(text)``."""

    def __init__(self, total: int | None, quiet: bool = False, stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        """``total`` None: not known yet (a roster still to be read); :meth:`begin` sets it."""
        self.done, self.quiet, self.want_bar = 0, quiet, bar
        self.stream = stream or sys.stderr
        self.mode, self.total = "off", 0
        self._bar: Any = None
        self._task: Any = None
        self._pending = total

    def __enter__(self) -> "Progress":
        if self._pending is not None:
            self.begin(self._pending)
        return self

    def begin(self, total: int) -> None:
        """Start showing progress over ``total`` files."""
        self.total = total
        if self.quiet or total <= 1:
            self.mode = "off"
        elif self.want_bar if self.want_bar is not None else _is_tty(self.stream):
            self.mode = "bar"
        else:
            self.mode = "plain"
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[name]}"), console=Console(file=self.stream), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("wbtool", total=self.total, name="")

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def advance(self, name: str | Path) -> None:
        """One more file done (``name`` is shown: the file's name, not its folder)."""
        self.done += 1
        label = safe(Path(name).name)  # a file name can hold a newline or ESC: one visible line
        if self.mode == "bar":
            self._bar.update(self._task, advance=1, name=label)
        elif self.mode == "plain":
            click.echo(f"[{self.done}/{self.total}] {label}", file=self.stream)

    def echo(self, text: str) -> None:
        """Print to stdout as soon as a result is ready, above the bar when there is one."""
        if self._bar is not None:
            self._bar.console.file.flush()
            self._bar.stop()
            click.echo(text)
            self._bar.start()
        else:
            click.echo(text)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
