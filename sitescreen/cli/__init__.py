"""The ``sitescreen`` command line: a thin layer over the library.

One module per subcommand; options shared between commands live in :mod:`.options`. Library errors
(:class:`~sitescreen.errors.SitescreenError`) become a one-line ``Error: …`` with exit code 1; bad
flags exit 2 (click's usage errors). No traceback is shown for user errors (``-v -v`` shows one).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from sitescreen import __version__
from sitescreen.errors import SitescreenError


class SitescreenGroup(click.Group):
    """A click group that reports library errors as ``Error: …`` (exit 1), never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SitescreenError as exc:
            if logging.getLogger("sitescreen").isEnabledFor(logging.DEBUG):
                logging.getLogger("sitescreen").exception("traceback")
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted; no partial output was left.", err=True)
            sys.exit(130)


@click.group(cls=SitescreenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sitescreen")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug with tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Screen candidate rare-earth mining sites against environmental safeguards.

    \b
    Quick start:
      sitescreen demo --out demo-out
      sitescreen screen deposits.csv --layer protected=wilderness.shp --out results
      sitescreen screen --config run.toml --out results
    """
    ctx.ensure_object(dict)
    ctx.obj.update(quiet=quiet, verbose=verbose)
    _set_level(ctx.obj)
    # SIGTERM unwinds like Ctrl-C, so temporary outputs are removed and nothing half-written stays
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _set_level(obj: dict) -> None:
    quiet, verbose = obj.get("quiet", False), obj.get("verbose", 0)
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("sitescreen").setLevel(level)


def _after_subcommand(ctx: click.Context, param: click.Parameter, value) -> None:
    """-q/-v given after the subcommand (``screen … -q``) count as given before it."""
    if value:
        obj = ctx.ensure_object(dict)
        if param.name == "quiet":
            obj["quiet"] = True
        else:
            obj["verbose"] = obj.get("verbose", 0) + value
        _set_level(obj)


def verbosity_options(cmd: click.Command) -> click.Command:
    """The group's -v/-q, accepted after the subcommand too (one meaning, one help text)."""
    for opt in main.params:
        if opt.name in ("verbose", "quiet"):
            cmd.params.append(click.Option(opt.opts, count=opt.count, is_flag=opt.is_flag and not opt.count,
                                           help=opt.help, expose_value=False, callback=_after_subcommand))
    return cmd


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _register() -> None:
    from sitescreen.cli.batch import batch_command
    from sitescreen.cli.check import check_command
    from sitescreen.cli.demo import demo_command
    from sitescreen.cli.diff import diff_command
    from sitescreen.cli.explain import explain_command
    from sitescreen.cli.map import map_command
    from sitescreen.cli.report import report_command
    from sitescreen.cli.rollup import rollup_command
    from sitescreen.cli.review import review_command
    from sitescreen.cli.screen import screen_command
    from sitescreen.cli.sensitivity import sensitivity_command
    from sitescreen.cli.sources import sources_command
    from sitescreen.cli.verify import verify_command
    for cmd in (screen_command, check_command, explain_command, map_command, report_command, verify_command,
                batch_command, demo_command, sources_command, sensitivity_command, rollup_command, diff_command,
                review_command):
        main.add_command(verbosity_options(cmd))


_register()
