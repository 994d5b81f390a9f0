"""Account passwords can be overridden from the environment."""

import subprocess
import sys


def test_password_override_from_environment():
    code = "from shardline.mysqlctl import users; print(users.APP.password, users.REPL.password)"
    env = {"SHARDLINE_APP_PASSWORD": "s3cret", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    app_password, repl_password = out.stdout.split()
    assert app_password == "s3cret"
    assert repl_password != "s3cret" and repl_password
