"""Make sure the Debian packages the tests drive are installed: Chromium for
the browser test, node for the CloudFront Function's JavaScript. Installs them with apt-get when it can (root on Debian, as
on CI); otherwise says exactly what to install and exits non-zero.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

# command on PATH -> Debian package that provides it
REQUIRED = {"chromium": "chromium", "node": "nodejs"}  # node runs the CloudFront Function's code
OPTIONAL = {"wrk": "wrk"}  # `make bench` asks for it: python tests/system_deps.py wrk


def missing(extra: tuple[str, ...] = ()) -> dict[str, str]:
    # CHROMIUM=/path/to/chrome stands in for Debian's chromium (e.g. GitHub's runners ship Chrome).
    chromium = os.environ.get("CHROMIUM")
    present = {"chromium"} if chromium and os.access(chromium, os.X_OK) else set()
    wanted = {cmd: OPTIONAL[cmd] for cmd in extra} if extra else REQUIRED  # named tools, or the test set
    return {cmd: pkg for cmd, pkg in wanted.items() if cmd not in present and shutil.which(cmd) is None}


def main(argv: list[str] | None = None) -> int:
    extra = tuple(argv if argv is not None else sys.argv[1:])
    unknown = [cmd for cmd in extra if cmd not in OPTIONAL]
    if unknown:
        print(f"unknown tool {', '.join(unknown)}: known are {', '.join(OPTIONAL)}", file=sys.stderr)
        return 2
    absent = missing(extra)
    if not absent:
        return 0
    packages = sorted(set(absent.values()))
    can_apt = shutil.which("apt-get") is not None and os.geteuid() == 0
    if not can_apt:
        print(f"missing: {', '.join(absent)}. Install with: sudo apt-get install -y {' '.join(packages)} "
              "(on other systems, install Chromium and put `chromium` on PATH)", file=sys.stderr)
        return 1
    print(f"installing Debian packages: {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            print(f"failed: {' '.join(cmd)}", file=sys.stderr)
            return 1
    still = missing(extra)
    if still:
        print(f"still missing after install: {', '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
