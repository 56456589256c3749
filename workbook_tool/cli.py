"""The `wbtool` command line: a thin click layer over the library.

Every :class:`WbtoolError` becomes one line on stderr and its exit code; no traceback reaches the
user for bad input.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import WbtoolError
from .textsafe import safe


JOBS = click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default=True,
                    help="并行进程数（0 = 全部 CPU 核；文件少于 4 个时不并行）")


def _fail(e: WbtoolError, lang: str) -> None:
    # a list of problems (batch, issue checks) is one line each, every line made terminal-safe
    click.echo("\n".join(("wbtool: " if i == 0 else "") + safe(line)
                         for i, line in enumerate(e.message(lang).split("\n"))), err=True)
    sys.exit(e.exit_code)


_USAGE_ZH = [  # click's usage errors, said in Chinese (click ships no translation)
    (re.compile(r"^Missing option (.+)\.$"), "缺少选项 {0}"),
    (re.compile(r"^Missing argument (.+)\.$"), "缺少参数 {0}"),
    (re.compile(r"^No such option:? (\S+?)\.?(?: Did you mean (.+)\?)?$"), "没有选项 {0}"),
    (re.compile(r"^No such command (.+)\.$"), "没有命令 {0}"),
    (re.compile(r"^Got unexpected extra arguments? \((.+)\)$"), "多余的参数（{0}）"),
    (re.compile(r"^Option (.+) requires an argument\.$"), "选项 {0} 需要一个值"),
    (re.compile(r"^Invalid value for (.+?): (.+?) is not one of (.+)\.$"), "{0} 的值 {1} 无效，可选：{2}"),
    (re.compile(r"^Invalid value for (.+?): (.+)$"), "{0} 的值无效：{1}"),
]


def usage_message(e: click.UsageError, lang: str) -> str:
    """A usage error as one or two lines in the user's language (Chinese unless --lang en)."""
    cmd = e.ctx.command_path if e.ctx is not None else "wbtool"
    if lang == "en":
        return f"{e.ctx.get_usage() if e.ctx else ''}\nTry '{cmd} --help' for help.\n\nError: {e.format_message()}"
    text = e.format_message()
    for pat, zh in _USAGE_ZH:
        m = pat.match(text)
        if m:
            text = zh.format(*m.groups())
            break
    return f"用法错误：{text}\n运行 {cmd} --help 查看用法。"


def _lang_of(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return "zh"


class _Wbtool(click.Group):
    """The command group, reporting usage errors in the chosen language (click's are English)."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:  # the caller handles click's exceptions itself
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except WbtoolError as e:  # the one handler of every command's refusals: a message, its exit code
            _fail(e, _lang_of(argv))
        except click.UsageError as e:
            click.echo(usage_message(e, _lang_of(argv)), err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("已中止。" if _lang_of(argv) != "en" else "Aborted!", err=True)
            sys.exit(1)


@click.group(cls=_Wbtool, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wbtool")
def main() -> None:
    """wbtool — 项目支出绩效评价表：生成（new）与检查（check）。"""


@main.command()
@click.option("-t", "--template", "template", default=None, help="模板 id 或 YAML 文件（默认 self-eval，或项目文件中的 template）")
@click.option("-p", "--project", "project", type=click.Path(dir_okay=False), default=None, help="项目文件（YAML）：表头、资金、下达指标")
@click.option("--with-actuals", is_flag=True, help="同时写入项目文件中的实际完成值等填报内容（用于样例和测试）")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False), help="输出 .xlsx")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--password", default=None, help="工作表保护密码（默认无密码保护）")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None, help="用该密钥签名下达内容（wbtool keygen 生成）")
@click.option("--deadline", default=None, help="报送截止日期，如 2025-03-31（显示在“说明”并记入下达记录）")
@click.option("--contact", default=None, help="联系人")
@click.option("--phone", default=None, help="联系电话")
@click.option("--return-to", "return_to", default=None, help="报送方式（如邮箱或地址）")
@click.option("--roster", default=None, type=click.Path(dir_okay=False), help="从名单（wbtool batch 的格式）中取一个项目")
@click.option("--code", "pick", default=None, help="与 --roster 同用：项目编码或项目名称")
def new(template: str | None, project: str | None, with_actuals: bool, output: str, lang: str, password: str | None,
        force: bool, key_file: str | None, deadline: str | None, contact: str | None, phone: str | None,
        return_to: str | None, roster: str | None, pick: str | None) -> None:
    """生成公式驱动的评价工作簿（空白、按项目文件预填，或取名单中的一个项目）。"""
    from .issuecheck import issue_problems, refuse_if_inconsistent
    from .office import office_details
    from .project import load_project_file, parse_project, strip_fill
    from .signing import load_key
    from .template import load_template
    from .writer import write_workbook, xlsx_path

    out = xlsx_path(output)
    if roster:
        _new_from_roster(roster, pick, template, out, lang, password, force, key_file,
                         {"deadline": deadline, "contact": contact, "phone": phone, "return_to": return_to})
        return
    data = load_project_file(project) if project else None
    tref = template or (data.get("template") if data else None) or "self-eval"
    tpl = load_template(tref)
    pr = parse_project(data, tpl, Path(project).name) if data is not None else None
    office = office_details({"deadline": deadline, "contact": contact, "phone": phone, "return_to": return_to},
                            base=(data or {}).get("office"), source=Path(project).name if project else "命令行")
    if pr is not None:
        refuse_if_inconsistent(issue_problems(pr, tpl))  # before anything is written
        if not with_actuals:
            pr = strip_fill(pr)
        pr.office = office
    key = load_key(key_file) if key_file else None
    write_workbook(out, tpl, pr, lang, password, force, key, office=office)  # a blank form may carry them too
    click.echo(f"{out}  [{tpl.id}@{tpl.version}]")


def _new_from_roster(roster: str, pick: str | None, template: str | None, out: Path, lang: str, password: str | None,
                     force: bool, key_file: str | None, office: dict[str, Any]) -> None:
    """`new --roster 名单.xlsx --code 2024-001`: one project of a roster, read and checked as `batch` does."""
    from .batch import plan_roster
    from .office import office_details
    from .signing import load_key
    from .template import load_template
    from .writer import write_workbook

    if not pick:
        raise WbtoolError("B007", "使用 --roster 时请用 --code 指定项目编码或项目名称", "--roster needs --code (a project code or name)")
    plan = plan_roster(roster, load_template(template or "self-eval"), out.parent, force=True)
    plan.refuse_if_problems()
    hits = [it for it in plan.items if pick in (it.project.office.get("code"), it.project.header.get("name"))]
    if len(hits) != 1:
        raise WbtoolError("B007", f"名单中{'没有' if not hits else '有多个'}项目编码或名称为 {pick!r} 的项目",
                          f"{'no' if not hits else 'more than one'} project with code or name {pick!r} in the roster")
    it = hits[0]
    it.project.office.update(office_details({k: v for k, v in office.items() if v}, source="命令行"))
    write_workbook(out, it.tpl, it.project, lang, password, force, load_key(key_file) if key_file else None)
    click.echo(f"{out}  [{it.tpl.id}@{it.tpl.version}]")


@main.command()
@click.argument("key_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="覆盖已存在的密钥文件")
def keygen(key_file: str, force: bool) -> None:
    """生成签名密钥文件（权限 0600）。请妥善保管，不要随表格发出。"""
    from .signing import keygen as make

    p = make(key_file, force)
    click.echo(f"{p}")


@main.command()
@click.argument("roster", type=click.Path(dir_okay=False))
@click.option("-t", "--template", "template", default="self-eval", show_default=True, help="默认模板 id 或 YAML 文件（名单的“模板”列优先）")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False), help="输出目录")
@click.option("-i", "--indicators", default=None, type=click.Path(dir_okay=False),
              help="指标表（CSV；名单为 xlsx 时可直接放在其“指标”工作表中）")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None, help="签名密钥")
@click.option("--password", default=None, help="工作表保护密码")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件")
@JOBS
@click.option("-q", "--quiet", is_flag=True, help="不显示进度")
def batch(roster: str, template: str, outdir: str, indicators: str | None, lang: str, key_file: str | None,
          password: str | None, force: bool, jobs: int, quiet: bool) -> None:
    """按名单（xlsx 的“项目”“指标”工作表，或 CSV）批量生成工作簿，每个项目一份。

    项目列：项目编码、项目名称、主管部门、实施单位、年度、模板、资金列（如 全年预算数 / 预算资金，万元）、
    文件名、年度总体目标、报送截止日期、联系人、联系电话、报送方式，可选 项目文件。指标列：项目编码或项目名称、
    一级指标、二级指标、三级指标、指标性质、指标值、计量单位、分值、备注。任何一行有问题时列出全部问题、不生成任何文件（退出码 2）。
    空白名单：wbtool roster-template -o 名单.xlsx
    """
    from .batch import issue_roster
    from .progress import Progress
    from .signing import load_key
    from .template import load_template

    tpl = load_template(template)
    key = load_key(key_file) if key_file else None
    with Progress(None, quiet) as prog:
        def step(done: int, total: int, name: str) -> None:
            if done == 1:
                prog.begin(total)  # the count is known once the roster is read
            prog.advance(name)
        results, notes = issue_roster(roster, tpl, outdir, lang, force, key, password, indicators, jobs=jobs,
                                      on_row=step)
    for zh, en in notes:
        click.echo(f"wbtool: {safe(en if lang == 'en' else zh)}", err=True)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            click.echo(f"第 {r.row} 行: {safe(r.error)}" if lang == "zh" else f"row {r.row}: {safe(r.error)}", err=True)
        else:
            click.echo(safe(r.path))
    done = len(results) - failed
    click.echo(f"共 {len(results)} 个项目：生成 {done} 个工作簿，失败 {failed} 个" if lang == "zh"
               else f"{len(results)} projects: {done} workbooks written, {failed} failed", err=True)
    sys.exit(1 if failed else 0)


@main.command("roster-template")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 .xlsx")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def roster_template(output: str, force: bool, lang: str) -> None:
    """生成空白名单（“项目”“指标”两个工作表，带下拉列表），填好后用 wbtool batch 批量下发。"""
    from .rostertemplate import write_roster_template
    from .writer import xlsx_path

    out = write_roster_template(xlsx_path(output), force)
    click.echo(str(out))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="汇总表 .xlsx（或 .csv：各表分别成文件）")
@click.option("--roster", type=click.Path(dir_okay=False), default=None, help="下发名单（CSV/xlsx）：列出未报送与名单外的报送")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("-t", "--template", "extra_templates", multiple=True, help="额外的模板文件")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None, help="验证下达签名的密钥文件")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件")
@JOBS
@click.option("-q", "--quiet", is_flag=True, help="不显示进度")
def collect(paths: tuple[str, ...], output: str, roster: str | None, lang: str, extra_templates: tuple[str, ...],
            key_file: str | None, force: bool, jobs: int, quiet: bool) -> None:
    """检查文件夹中的全部回收文件并汇总：总览（含图表）、排名、问题清单、文件清单；给出名单时另列未报送与名单外。"""
    from .collect import build, folder_record, list_inputs, read_roster_rows, summarise
    from .collect_out import outputs, write
    from .pool import map_files
    from .progress import Progress
    from .signing import load_key
    from .template import load_template

    extra = [load_template(t) for t in extra_templates]
    key = load_key(key_file) if key_file else None
    rows = read_roster_rows(roster) if roster else None
    files, unreadable_dirs = list_inputs(list(paths), exclude=outputs(output) + ([Path(roster)] if roster else []))
    records = [folder_record(d) for d in unreadable_dirs]
    summarise_one = functools.partial(summarise, templates=extra, key=key, lang=lang)
    with Progress(len(files), quiet) as prog:
        for f, rec in zip(files, map_files(summarise_one, files, jobs)):
            records.append(rec)
            prog.advance(f)
    summary = build(records, rows)
    write(summary, output, force)
    c = summary.counts()
    line = (f"{output}: 收到 {c['received']} 个文件，有效报送 {c['workbooks']}（通过 {c['passed']}，有警告 {c['warnings']}，"
            f"有错误 {c['errors']}），重复 {c['duplicates']}，无法读取 {c['unreadable']}，非工作簿 {c['not_workbook']}")
    if rows is not None:
        line += f"，未报送 {c['missing']}，名单外 {c['unexpected']}"
    click.echo(line)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(), help="报告 .docx（多个文件或目录时为输出目录）")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--force", is_flag=True, help="检查有错误时仍生成报告（首页列出错误）")
@click.option("--overwrite", is_flag=True, help="覆盖已存在的报告")
@click.option("-t", "--template", "extra_templates", multiple=True, help="额外的模板文件")
def report(paths: tuple[str, ...], output: str, lang: str, force: bool, overwrite: bool,
           extra_templates: tuple[str, ...]) -> None:
    """根据检查后的回收工作簿生成评价报告草稿（Word .docx）；数字均取自 Python 重算结果。"""
    from .docreport import write_report
    from .template import load_template

    extra = [load_template(t) for t in extra_templates]
    files, unreadable = _expand(paths)
    many = len(files) > 1 or any(Path(p).is_dir() for p in paths)
    out = Path(output)
    if many:
        out.mkdir(parents=True, exist_ok=True)
    worst = 0
    for d in unreadable:
        click.echo(f"wbtool: {d}: 无法读取的目录" if lang != "en" else f"wbtool: {d}: folder could not be read", err=True)
        worst = 2
    for f in files:
        target = out / (f.stem + ".docx") if many else out
        try:
            write_report(f, target, lang, force, extra, overwrite)
            click.echo(str(target))
        except WbtoolError as e:
            click.echo(f"wbtool: {e.message(lang)}", err=True)
            worst = max(worst, e.exit_code)
    sys.exit(worst)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def codes(fmt: str) -> None:
    """列出全部代码：检查结果（代码、级别、标题、中英文说明）与命令错误（代码、退出码、标题）。"""
    from . import catalogue, intake  # noqa: F401  (both register codes)
    from .errors import COMMAND_ERRORS
    from .findings import CATALOGUE

    if fmt == "markdown":
        click.echo("# Finding codes\n\nGenerated by `wbtool codes --format markdown`; stable across releases.\n")
        click.echo("| code | severity | title | message (zh) | message (en) |\n|---|---|---|---|---|")
    for c in sorted(CATALOGUE.values(), key=lambda c: c.code):
        if fmt == "markdown":
            cells = [c.code, c.severity, f"{c.title_zh} / {c.title_en}", c.zh, c.en]
            click.echo("| " + " | ".join(x.replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
        else:
            click.echo(f"{c.code}  {c.severity:<7} {c.title_zh} / {c.title_en}")
    if fmt == "markdown":
        click.echo("\n# Command errors\n\nA command that cannot do what was asked prints one message naming the file, "
                   "option or value, and exits with the code below (JSON reports of `check` carry finding codes only).\n")
        click.echo("| code | exit | title |\n|---|---|---|")
    for e in sorted(COMMAND_ERRORS.values(), key=lambda e: e.code):
        if fmt == "markdown":
            click.echo(f"| {e.code} | {e.exit_code} | {e.title_zh} / {e.title_en} |")
        else:
            click.echo(f"{e.code}  exit {e.exit_code} {e.title_zh} / {e.title_en}")


@main.command()
def templates() -> None:
    """列出内置模板（id、版本、说明）。"""
    from .template import builtin_templates, load_template

    for tid in builtin_templates():
        t = load_template(tid)
        click.echo(f"{t.id:<12} {t.version:<8} {t.description}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--strict", is_flag=True, help="警告也视为失败")
@click.option("-t", "--template", "extra_templates", multiple=True, help="额外的模板文件（本单位自定义模板）")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None, help="验证下达签名的密钥文件")
@JOBS
@click.option("-q", "--quiet", is_flag=True, help="每个文件一行，不显示进度")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False), default=None,
              help="为有问题的文件在该目录写一份带审核意见的副本（原文件不变），可退回单位修改")
def check(paths: tuple[str, ...], fmt: str, lang: str, strict: bool, extra_templates: tuple[str, ...],
          key_file: str | None, jobs: int, quiet: bool, annotate_dir: str | None) -> None:
    """检查回收的工作簿：校验输入、Python 重算、核对公式结果。退出码 0 通过 / 1 有错误 / 2 无法读取。"""
    if annotate_dir is None:
        _skip_numpy()
    from .checker import unreadable_folder
    from .pool import map_files
    from .progress import Progress
    from .report import count_line, overall_exit, quiet_line, render_file, render_footer, to_json
    from .signing import load_key
    from .template import load_template

    try:
        extra = [load_template(t) for t in extra_templates]
        key = load_key(key_file) if key_file else None
        if annotate_dir:
            Path(annotate_dir).mkdir(parents=True, exist_ok=True)
    except (WbtoolError, OSError) as e:
        if isinstance(e, OSError):
            e = WbtoolError("O002", f"无法创建目录 {annotate_dir}：{e}", f"cannot create {annotate_dir}: {e}")
        _fail(e, lang)
    files, unreadable_dirs = _expand(paths)
    reports = []
    annotated = []
    checked = map_files(functools.partial(_check_quietly, templates=extra, key=key), files, jobs)
    with Progress(len(files) + len(unreadable_dirs), quiet) as prog:
        for f, r in itertools.chain(zip(files, checked), ((d, unreadable_folder(d)) for d in unreadable_dirs)):
            reports.append(r)
            if annotate_dir:
                out = _annotate(r, Path(annotate_dir), lang)
                if out is not None:
                    annotated.append(out)
            prog.advance(f)
            if fmt == "text":  # each result as soon as it is known (in input order, whichever worker finished)
                prog.echo(quiet_line(r, lang, strict) if quiet else render_file(r, lang, strict))
    if fmt == "json":
        click.echo(to_json(reports, lang, strict))
    elif quiet:
        click.echo(count_line(reports, lang))
    else:
        click.echo(render_footer(reports, lang, strict))
    if annotated:
        click.echo((f"审核意见副本 {len(annotated)} 份：{annotate_dir}" if lang != "en"
                    else f"{len(annotated)} annotated copies in {annotate_dir}"), err=True)
    sys.exit(overall_exit(reports, strict))


def _annotate(r, outdir: Path, lang: str):  # -> Path | None
    """The annotated copy of one faulty return; a copy that cannot be written is reported, not fatal."""
    from .annotate import annotate

    try:
        return annotate(r, outdir, lang)
    except WbtoolError as e:
        click.echo(f"wbtool: {safe(e.message(lang))}", err=True)
        return None


def _check_quietly(path: Path, templates: list, key: bytes | None):  # noqa: ANN201
    """check_file with anything a library prints sent to stderr: stdout is the report's alone (this
    runs in the worker processes too)."""
    from .checker import check_file

    with contextlib.redirect_stdout(sys.stderr):
        return check_file(path, templates, key)


def _skip_numpy() -> None:
    """openpyxl imports numpy (when installed) only to recognise numpy numbers it is asked to *write*;
    `check` only reads, and numpy's import is a third of its start-up. Used by this command only:
    a process that needs numpy later (annotate → openpyxl) must not call this."""
    if "numpy" not in sys.modules and "openpyxl" not in sys.modules:
        sys.modules["numpy"] = None  # type: ignore[assignment]


def _expand(paths: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """Files as given, and the workbooks inside given folders (Office lock files and summaries written
    by `wbtool collect` skipped); plus the folders that could not be read (reported, never skipped in
    silence)."""
    from .collect import is_own_output

    files: list[Path] = []
    unreadable: list[Path] = []
    for p in paths:
        pp = Path(p)
        if pp.is_dir():
            found: list[Path] = []
            for top, dirs, names in os.walk(pp, onerror=lambda e: unreadable.append(Path(e.filename))):
                dirs.sort()
                found.extend(Path(top) / n for n in names if Path(n).suffix.lower() in (".xlsx", ".xlsm", ".xls", ".et", ".xlsb")
                             and not n.startswith(("~$", ".~")) and not is_own_output(Path(top) / n))
            files.extend(sorted(found))
        else:
            files.append(pp)
    return files, unreadable


if __name__ == "__main__":
    main()
