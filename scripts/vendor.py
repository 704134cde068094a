"""Vendored browser files (socket.io-client, swagger-ui-dist): fetch them from the npm registry
with `npm pack`, check the tarball's integrity and every file's SHA-256 against
app/web/static/vendor/vendor.json, and write them into the package.

    python scripts/vendor.py            # `make vendor`: the recorded versions, hashes checked
    python scripts/vendor.py --upgrade  # the newest release of each recorded major; records it

The served pages load these files from the server itself, never from a CDN (an offline shop
network must still print and show /docs). tests/web/test_vendor.py holds the committed files
equal to the recorded hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

VENDOR_DIR = Path(__file__).resolve().parent.parent / "app" / "web" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "vendor.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm(*args: str, cwd: Path) -> Any:
    # npm from PATH, as `make vendor` runs it; the arguments come from the manifest.
    out = subprocess.run(  # noqa: S603
        ["npm", *args, "--json"],  # noqa: S607
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def latest_of_major(name: str, version: str, cwd: Path) -> str:
    major = version.split(".", 1)[0]
    versions = npm("view", f"{name}@{major}", "version", cwd=cwd)
    if isinstance(versions, str):
        return versions
    return str(versions[-1])


def fetch(name: str, entry: dict[str, Any], *, upgrade: bool, work: Path) -> dict[str, bytes]:
    """The package's files named in ``entry`` (package path -> vendored path), checked."""
    version = latest_of_major(name, entry["version"], work) if upgrade else entry["version"]
    packed = npm("pack", f"{name}@{version}", "--pack-destination", str(work), cwd=work)[0]
    if not upgrade and packed["integrity"] != entry["integrity"]:
        raise SystemExit(f"{name}@{version}: tarball integrity differs from vendor.json")
    files: dict[str, bytes] = {}
    with tarfile.open(work / packed["filename"]) as tar:
        for source, spec in entry["files"].items():
            member = tar.extractfile(f"package/{source}")
            if member is None:
                raise SystemExit(f"{name}@{version}: {source} is not a file")
            data = member.read()
            if not upgrade and sha256(data) != spec["sha256"]:
                raise SystemExit(f"{name}@{version}: {source} differs from its recorded SHA-256")
            files[spec["path"]] = data
            spec["sha256"] = sha256(data)
    if upgrade:
        entry["version"], entry["integrity"] = version, packed["integrity"]
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="newest release of each major")
    args = parser.parse_args(argv)
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for name, entry in manifest.items():
            for path, data in fetch(name, entry, upgrade=args.upgrade, work=Path(tmp)).items():
                target = VENDOR_DIR / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            print(f"{name}@{entry['version']}: {len(entry['files'])} files, hashes match")
    if args.upgrade:
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
