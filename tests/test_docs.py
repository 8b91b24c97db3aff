"""Docs kept honest: every command has help and appears in the README."""

from __future__ import annotations

from pathlib import Path

import click

from intake.commands import main

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def all_commands(group: click.Group, prefix: str = "intake"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from all_commands(command, path)
        else:
            yield path, command


def test_every_command_has_help_and_is_in_the_readme():
    commands = list(all_commands(main))
    assert len(commands) >= 9
    for path, command in commands:
        assert command.help, f"{path} has no help text"
        assert f"`{path}" in README, f"{path} is not in README.md"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_docs_named_in_the_readme_exist():
    for name in ("envelope.md", "questionnaire.md", "administrator.md"):
        assert f"docs/{name}" in README
        assert (ROOT / "docs" / name).exists(), name


def test_every_command_takes_instance(tmp_path):
    """`--instance DIR` is accepted by every command, and before the command too."""
    from click.testing import CliRunner

    runner = CliRunner()
    for path, _command in all_commands(main):
        words = path.split()[1:]
        result = runner.invoke(main, [*words, "--instance", str(tmp_path), "--help"])
        assert result.exit_code == 0, f"{path}: {result.output}"
    assert runner.invoke(main, ["--instance", str(tmp_path), "outbox", "--help"]).exit_code == 0
