"""The users file (JSON, TOML, CSV) and its errors; what the fixtures need; renewed 401s are not failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.fixtures_build import check_cast
from harness.users_file import UserCredentials, parse_users
from reports.measures import failed_mask

ONE = UserCredentials("b1@x.test", "pw", "BUYER")


def test_json_toml_and_csv_say_the_same() -> None:
    as_json = parse_users(
        Path("u.json"), '{"users": [{"email": "b1@x.test", "password": "pw", "role": "buyer"}]}'
    )
    as_toml = parse_users(Path("u.toml"), '[[users]]\nemail = "b1@x.test"\npassword = "pw"\nrole = "BUYER"\n')
    as_csv = parse_users(Path("u.csv"), "email,password,role\nb1@x.test,pw,BUYER\n")
    assert as_json == as_toml == as_csv == [ONE]


def test_optional_ids_are_kept() -> None:
    [u] = parse_users(Path("u.csv"), "email,password,role,walletId,agentId\na@x.test,pw,AGENT,,ag-1\n")
    assert (u.wallet_id, u.agent_id) == (None, "ag-1")


def test_every_error_is_named_with_its_row() -> None:
    text = (
        '{"users": [{"email": "a@x.test", "password": "pw", "role": "BUYR"},'
        ' {"email": "", "password": "pw", "role": "ADMIN"},'
        ' {"email": "A@x.test", "password": "pw", "role": "SELLER", "walletid": "w"}]}'
    )
    with pytest.raises(InvalidInput) as info:
        parse_users(Path("u.json"), text)
    msg = str(info.value)
    assert "u.json: users[0]: role 'BUYR' is not one of BUYER, SELLER, AGENT, ADMIN" in msg
    assert "u.json: users[1]: email is required" in msg
    assert "u.json: users[2]: unknown key 'walletid' (did you mean 'walletId'?)" in msg
    assert "u.json: users[2]: A@x.test appears twice" in msg


def test_bad_syntax_and_shape() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_users(Path("u.json"), "{")
    with pytest.raises(InvalidInput, match="expected"):
        parse_users(Path("u.json"), '[{"email": "a"}]')
    with pytest.raises(InvalidInput, match="no users"):
        parse_users(Path("u.csv"), "email,password,role\n")


def _u(role: str, n: int, **ids: str) -> dict[str, str]:
    return {"email": f"{role.lower()}{n}@x.test", "role": role, **ids}


def test_cast_needs_every_role_and_the_ids_flows_use() -> None:
    errors, _ = check_cast([_u("BUYER", 1), _u("SELLER", 1), _u("AGENT", 1), _u("ADMIN", 1)])
    assert any(e.startswith("BUYER without a walletId") and "buyer1@x.test" in e for e in errors)
    assert any(e.startswith("AGENT without an agentId") for e in errors)
    errors, _ = check_cast([_u("BUYER", 1, walletId="w"), _u("SELLER", 1)])
    assert [e.split(":")[0] for e in errors] == ["no AGENT user", "no ADMIN user"]
    assert "acceptance_race" in errors[0]


def test_fewer_agents_than_race_participants_is_a_warning() -> None:
    users = [_u("BUYER", 1, walletId="w"), _u("SELLER", 1), _u("AGENT", 1, agentId="a"), _u("ADMIN", 1)]
    errors, warnings = check_cast(users)
    assert errors == []
    assert any("1 AGENT user(s) for" in w and "acceptance_race" in w for w in warnings)


def test_a_renewed_401_is_not_a_failed_request_but_any_other_401_is() -> None:
    status = np.array([401, 401, 200, 500])
    codes = np.array(["AUTH_RENEWED", "UNAUTHORIZED", "", ""], dtype=object)
    assert failed_mask(status, codes).tolist() == [False, True, False, True]
    assert failed_mask(status).tolist() == [True, True, False, True]
