"""``shardline mysqlctl`` end to end, in process."""

import pytest

from shardline.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_:
        main(["mysqlctl", *argv])
    captured = capsys.readouterr()
    return exit_.value.code, captured.out.strip(), captured.err.strip()


def test_init_start_status_stop(tmp_path, unused_tcp_port, capsys):
    flags = ("--root", str(tmp_path), "--uid", "4242", "--port", str(unused_tcp_port))
    try:
        code, out, _ = run(capsys, "init", *flags)
        assert code == 0 and str(tmp_path / "vt_0000004242") in out
        assert (tmp_path / "vt_0000004242" / "data" / "mysql").is_dir()

        code, out, _ = run(capsys, "start", *flags)
        assert code == 0 and f"running on 127.0.0.1:{unused_tcp_port}" in out

        code, out, _ = run(capsys, "status", *flags)
        assert code == 0 and "running" in out and "pid" in out
    finally:
        code, out, _ = run(capsys, "stop", *flags)
    assert code == 0 and "stopped" in out
    code, out, _ = run(capsys, "status", *flags)
    assert code == 1 and "not running" in out


def test_errors_are_one_line(tmp_path, capsys):
    code, out, err = run(capsys, "start", "--root", str(tmp_path), "--uid", "5")
    assert code == 1 and out == ""
    assert err == f"error: {tmp_path / 'vt_0000000005'} is not initialized: run init first"
    code, _, err = run(capsys, "init", "--root", str(tmp_path), "--uid", "0")
    assert code == 1 and err.startswith("error: invalid tablet uid 0")
