"""A program waiting for terminal input, on a real local bash (runner/running/waiting.py; the sandbox's
end-to-end tests: tests/test_input_wait_e2e.py): known at once and the shell back at its prompt; a
prompt the dialog answers, and a quiet command that reads nothing, are not taken for such a wait."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from runner.running.session import HostShell, Masker, Transcript, Unterminated, WaitsForInput


@pytest.fixture
def sh() -> Iterator[HostShell]:
    shell = HostShell("local", ["bash", "--noediting", "--noprofile", "--norc", "-i"],
                      Transcript(None, Masker([])), timeout=120)
    shell.start()
    yield shell
    shell.close()


def test_read_is_known_at_once_and_the_shell_goes_on(sh: HostShell) -> None:
    assert sh.child is not None
    pid = sh.child.pid
    with pytest.raises(WaitsForInput) as err:
        sh.run("read -p 'Do you want to continue? [Y/n] ' answer; echo answered")
    # (after the timeout: "no prompt after 120s while running …")
    assert err.value.message == ("bash waits for terminal input (read -p 'Do you want to continue? [Y/n] ' answer; "
                                 "echo answered; it printed 'Do you want to continue? [Y/n]'): a guide run cannot "
                                 "answer it")
    after = sh.run("echo still here; echo \"${answer-unset}\"")
    # the same shell, and the question was not answered (Ctrl-C ended the command line)
    assert sh.child is not None and sh.child.pid == pid
    assert after.status == 0 and after.output == "still here\nunset\n"


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) (util-linux) for a terminal in a terminal")
def test_a_read_on_a_terminal_inside_the_terminal_is_known(sh: HostShell) -> None:
    """As ``sudo`` (``use_pty``) or ``crun exec --tty`` give their command a terminal of its own.

    script(1) runs its command with ``$SHELL`` (``sh`` where it is unset, as in CI): the test names it."""
    with pytest.raises(WaitsForInput) as err:
        sh.run("SHELL=/bin/bash script -qec 'read x' /dev/null")
    assert err.value.message.startswith("bash waits for terminal input (SHELL=/bin/bash script -qec 'read x' /dev/null")
    assert sh.run("echo ok").output == "ok\n"


def test_a_prompt_the_dialog_answers_is_no_wait(sh: HostShell) -> None:
    res = sh.run("read -p 'Name: ' name; echo \"got $name\"", [("Name:", "alice")])
    assert res.status == 0 and res.output.endswith("got alice\n")


def test_a_quiet_command_that_reads_nothing_is_no_wait(sh: HostShell) -> None:
    res = sh.run("sleep 0.8; echo done")
    assert res.status == 0 and res.output == "done\n"


@pytest.mark.parametrize(("command", "why"), [
    ('echo "abc', "an open quote"),
    ("echo it's", "an open quote"),
    ("echo a \\", "a backslash at the end"),
    ("echo a |", "a line ending in |"),
    ("cat <<EOF\nit's\nno end", "a here-document with no line EOF to end it"),
    ("for i in 1 2; do\n  echo $i", "an unfinished if, for, while, case, function, ( or {"),
])
def test_a_command_bash_waits_the_rest_of_is_not_terminated(sh: HostShell, command: str, why: str) -> None:
    """bash's own wait for more lines (its continuation prompt after the command's last line) is told
    from a program's wait for input; Ctrl-C drops the unfinished command and the same shell goes on."""
    assert sh.child is not None
    pid = sh.child.pid
    with pytest.raises(Unterminated) as err:
        sh.run(command)
    # (bash's continuation alone: "bash waits for terminal input (…): a guide run cannot answer it")
    assert err.value.message == f"command not terminated: bash waits for more input ({why})"
    after = sh.run("echo still here")
    assert sh.child is not None and sh.child.pid == pid and after.output == "still here\n"


def test_commands_of_several_lines_keep_their_output_and_their_own_waits(sh: HostShell) -> None:
    """bash's continuation prompts between a command's lines are not output; a program waiting inside
    a finished command of several lines is a wait for input, not an unterminated command."""
    assert sh.run("cat <<EOF\na\nb\nEOF").output == "a\nb\n"
    assert sh.run("if true; then\n  echo yes\nfi").output == "yes\n"
    with pytest.raises(WaitsForInput) as err:
        sh.run("if true; then\n  read x\nfi")
    assert err.value.message == "bash waits for terminal input (if true; then): a guide run cannot answer it"
    assert sh.run("echo ok").output == "ok\n"
