"""A program waiting for terminal input, on a real local bash (runner/running/waiting.py; the sandbox's
end-to-end tests: tests/test_input_wait_e2e.py): known at once and the shell back at its prompt; a
prompt the dialog answers, and a quiet command that reads nothing, are not taken for such a wait."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from runner.running.session import HostShell, Masker, Transcript, WaitsForInput


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
