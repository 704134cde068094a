"""``printrelay-bridge install-service``: the systemd unit it writes and the systemctl commands
it runs, against a temporary unit directory and a fake ``systemctl`` on PATH (the machine's
systemd is never touched)."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bridge_agent import credentials, service

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd: Linux")

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> "{log}"
"""


@pytest.fixture
def paired(tmp_path: Path) -> Path:
    state = tmp_path / "my state"  # a space: the unit must quote it
    creds = credentials.Credentials("http://127.0.0.1:1", "prd_" + "t" * 40, "dev-1", "till")
    credentials.save(state, creds)
    return state


@pytest.fixture
def fake_systemctl(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl-calls"
    script = bin_dir / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.format(log=calls))
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return env, calls


def agent(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge_agent.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_install_writes_enables_and_says_what_it_did(
    paired: Path, fake_systemctl: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, calls = fake_systemctl
    units = tmp_path / "units"
    printer = "tcp://192.168.1.50:9100"
    args = ["install-service", "--printer", printer, "--state-dir", str(paired)]
    done = agent(env, *args, "--user", "--unit-dir", str(units), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    unit = units / "printrelay-bridge.service"
    assert f"wrote {unit}" in done.stdout
    assert "ran systemctl --user enable --now printrelay-bridge.service" in done.stdout
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    text = unit.read_text()
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    # systemd splits ExecStart much as a POSIX shell does for these quotes.
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:4] == [sys.executable, "-m", "bridge_agent.cli", "run"]
    assert argv[argv.index("--printer") + 1] == printer
    assert argv[argv.index("--state-dir") + 1] == str(paired.resolve())
    assert argv[argv.index("--log-format") + 1] == "json"
    assert "RestartPreventExitStatus=2 3 6" in text and "WantedBy=default.target" in text
    assert "prd_" not in text  # the token stays in the state dir
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now printrelay-bridge.service",
    ]


def test_dry_run_prints_the_unit_and_changes_nothing(
    paired: Path, fake_systemctl: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, calls = fake_systemctl
    units = tmp_path / "units"
    done = agent(
        env,
        "install-service",
        "--printer",
        "usb://04b8:0202",
        "--state-dir",
        str(paired),
        "--system",
        "--unit-dir",
        str(units),
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    assert "ExecStart=" in done.stdout and "WantedBy=multi-user.target" in done.stdout
    assert "# then: systemctl enable --now printrelay-bridge.service" in done.stdout
    assert not units.exists() and not calls.exists()


def test_an_unpaired_state_dir_is_refused(
    fake_systemctl: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, calls = fake_systemctl
    done = agent(
        env,
        "install-service",
        "--printer",
        "tcp://10.0.0.9:9100",
        "--state-dir",
        str(tmp_path / "empty"),
        "--unit-dir",
        str(tmp_path / "units"),
    )
    assert done.returncode == 2
    assert "not paired" in done.stderr and "pair" in done.stderr
    assert not (tmp_path / "units").exists() and not calls.exists()


def test_a_failing_systemctl_is_reported(
    paired: Path, fake_systemctl: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _calls = fake_systemctl
    (Path(env["PATH"].split(os.pathsep)[0]) / "systemctl").write_text(
        "#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n"
    )
    done = agent(
        env,
        "install-service",
        "--printer",
        "tcp://10.0.0.9:9100",
        "--state-dir",
        str(paired),
        "--unit-dir",
        str(tmp_path / "units"),
    )
    assert done.returncode == 2
    assert "Failed to connect to bus" in done.stderr


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("plain", "plain"),
        ("/srv/my state", '"/srv/my state"'),
        ("100%$HOME", "100%%$$HOME"),
        ('say "hi"', '"say \\"hi\\""'),
    ],
)
def test_exec_start_arguments_are_quoted_for_systemd(arg: str, quoted: str) -> None:
    assert service.quote(arg) == quoted


@pytest.mark.parametrize("name", ["../../etc/evil", "a b", ".hidden", ""])
def test_a_unit_name_that_is_not_a_plain_name_is_refused(
    name: str, paired: Path, fake_systemctl: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, calls = fake_systemctl
    done = agent(
        env,
        "install-service",
        "--printer",
        "tcp://10.0.0.9:9100",
        "--state-dir",
        str(paired),
        "--unit-dir",
        str(tmp_path / "units"),
        "--name",
        name,
    )
    assert done.returncode == 2 and "--name" in done.stderr
    assert not (tmp_path / "units").exists() and not calls.exists()


def test_a_shop_whose_devices_have_their_printers_needs_no_printer_option(tmp_path: Path) -> None:
    from bridge_agent import shop

    state = tmp_path / "shop"
    for device_id, printer in (("dev-1", "tcp://10.0.0.5:9100"), ("dev-2", "usb://04b8:0202")):
        creds = credentials.Credentials("http://127.0.0.1:1", "prd_x", device_id, "pc", printer)
        shop.save_device(state, creds)
    args = ["install-service", "--state-dir", str(state), "--dry-run", "--user"]
    done = agent(dict(os.environ), *args, "--unit-dir", str(tmp_path / "units"))
    assert done.returncode == 0, done.stderr
    exec_start = next(line for line in done.stdout.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[3] == "run" and "--printer" not in argv
    assert argv[argv.index("--state-dir") + 1] == str(state.resolve())
