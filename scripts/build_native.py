"""Compiles the gate's per-query modules to C extensions with mypyc (docs/gate.md, "Compiled modules").

Python imports an extension module (``fastpath.cpython-311-x86_64-linux-gnu.so``) in preference to the ``.py``
beside it, so once built the gate runs the compiled modules; without them it runs the same modules as Python.
A build is skipped while the modules, the modules they import and the toolchain are as they were at the last
one (a digest in ``build/native/digest``), so the bootstrap runs this every time. The modules' type annotations
are checked by mypy on the way (a type error fails the build) and enforced by the compiled code at run time.

    .venv/bin/python scripts/build_native.py           # build if anything changed since the last build
    .venv/bin/python scripts/build_native.py --clean   # remove the extensions: the pure-Python modules run
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import platform
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD = ROOT / "build" / "native"
DIGEST = BUILD / "digest"
# What a statement with a cached plan runs through between the client's socket and the shards': the fast path,
# the relay and merge of the shards' results and the protocol core (benchmarks/fastpath_cost.py and
# scatter_cost.py profile them). Planning, once per statement shape, stays Python.
NATIVE_MODULES = (
    "shardline/gate/engine/aggregate.py",
    "shardline/gate/engine/distinct.py",
    "shardline/gate/engine/memory_sort.py",
    "shardline/gate/engine/ordering.py",
    "shardline/gate/engine/route.py",
    "shardline/gate/fastpath.py",
    "shardline/gate/handler.py",
    "shardline/gate/metrics.py",
    "shardline/gate/planner/shape.py",
    "shardline/gate/pool.py",
    "shardline/gate/scatter_conn.py",
    "shardline/gate/session.py",
    "shardline/gate/tablet_gateway.py",
    "shardline/mysql/binary.py",
    "shardline/mysql/client.py",
    "shardline/mysql/client_protocol.py",
    "shardline/mysql/framing.py",
    "shardline/mysql/resultset.py",
    "shardline/mysql/server.py",
    "shardline/mysql/server_protocol.py",
    "shardline/mysql/wire.py",
    "shardline/vindexes/convert.py",
    "shardline/vindexes/hash.py",
)
MYPY_OPTIONS = ("--follow-imports=silent", "--ignore-missing-imports")


def _imported_sources(path: Path) -> set[Path]:
    """The project's modules that ``path`` imports (their annotations shape the compiled code)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            if name.split(".")[0] != "shardline":
                continue
            base = SRC / name.replace(".", "/")
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.exists():
                    found.add(candidate)
    return found


def digest() -> str:
    """What the extensions were built from: interpreter, mypy, this script, the compiled modules and the modules
    they import."""
    compiled = [SRC / module for module in NATIVE_MODULES]
    sources = sorted(set(compiled).union(*map(_imported_sources, compiled)))
    h = hashlib.sha256(f"{sys.version} {platform.machine()} mypy {version('mypy')}\n".encode())
    h.update(Path(__file__).read_bytes())
    for source in sources:
        h.update(f"{source.relative_to(SRC)}\n".encode() + source.read_bytes())
    return h.hexdigest()


def extensions() -> list[Path]:
    """The built extension files in the source tree (the modules' and mypyc's shared runtime)."""
    return [path for path in SRC.rglob("*.so") if path.is_file()]


def clean() -> None:
    for path in extensions():
        path.unlink()
    DIGEST.unlink(missing_ok=True)


def build() -> None:
    from mypyc.build import mypycify  # a build tool, needed only here
    from setuptools import setup

    # mypy's cache from an earlier build can crash mypyc's code generator (seen with separate=True): start afresh
    shutil.rmtree(BUILD / "mypy-cache", ignore_errors=True)
    BUILD.mkdir(parents=True, exist_ok=True)
    os.environ["MYPY_CACHE_DIR"] = str(BUILD / "mypy-cache")
    os.chdir(SRC)  # build_ext --inplace puts each extension beside its module
    modules = mypycify([*MYPY_OPTIONS, *NATIVE_MODULES], separate=True, target_dir=str(BUILD / "c"))
    setup(name="shardline-native", ext_modules=modules,
          script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(BUILD / "temp"),
                       "--build-lib", str(BUILD / "lib")])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove the extensions and run pure Python")
    args = parser.parse_args()
    if args.clean:
        clean()
        return 0
    wanted = digest()
    if DIGEST.exists() and DIGEST.read_text() == wanted and extensions():
        return 0
    print("compiling the gate's per-query modules with mypyc (scripts/build_native.py)", file=sys.stderr)
    clean()
    try:
        build()
    except SystemExit as exc:  # setup() and mypycify() report failures (type errors, compiler) this way
        if exc.code:
            clean()
            print(f"build_native: the build failed ({exc.code}); fix the error above", file=sys.stderr)
            return 1
    except Exception as exc:  # a crash of mypyc itself: the pure-Python modules stay usable
        clean()
        print(f"build_native: mypyc failed: {exc!r}", file=sys.stderr)
        return 1
    DIGEST.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
