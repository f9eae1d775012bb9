"""The kit with credentials, and serve's credential options, end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ocpp_broker_protos import conformance
from ocpp_broker_protos.conformance.credentials import READER_TOKEN, TOKEN
from ocpp_broker_protos.reference import ReferenceServer
from ocpp_broker_protos.reference.auth import Tokens
from ocpp_broker_protos.reference.demo import demo_store
from ocpp_broker_protos.testing.certificates import TestPki, make_test_pki
from tests.broken_variants import ADMIN_TOKEN, AUTH_VARIANTS, broken_auth_server
from tests.broken_variants import READER_TOKEN as BROKEN_READER
from tests.cli_process import run_cli, serving

ADMIN = "kit-admin-5d41402abc4b2a76b9719d91"
READER = "kit-reader-7d793037a0760186574b0282"
AUTH_CASES = {c.name for c in conformance.cases(credentials=conformance.Credentials(ADMIN, READER))} - {
    c.name for c in conformance.cases()
}
EXPECTED_CATCH = {
    "accepts_a_wrong_token": "credentials_wrong_token_is_unauthenticated",
    "lets_a_reader_write": "reader_token_cannot_write",
    "refuses_a_reader_a_read": "reader_token_reads",
    "missing_credentials_reported_as_invalid": "credentials_missing_is_unauthenticated",
    "acts_on_a_refused_call": "reader_token_cannot_write",
    "health_needs_credentials": "credentials_missing_is_unauthenticated",
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def token_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tokens")
    files = {"tokens": folder / "tokens.txt", "admin": folder / "admin.token", "reader": folder / "reader.token"}
    files["tokens"].write_text(f"# the kit\nadmin {ADMIN}\nreader {READER}\n")
    files["admin"].write_text(ADMIN + "\n")
    files["reader"].write_text(READER)
    return files


def _no_token_in(*texts: str) -> None:
    for text in texts:
        assert ADMIN not in text
        assert READER not in text


def test_authentication_cases_need_a_token_and_are_named_when_not_run(ocpp_server):
    expected = {
        "credentials_missing_is_unauthenticated",
        "credentials_wrong_token_is_unauthenticated",
        "reader_token_reads",
        "reader_token_cannot_write",
    }
    assert expected == AUTH_CASES
    assert {c.name for c in conformance.cases(credentials=conformance.Credentials(ADMIN))} & AUTH_CASES == {
        "credentials_missing_is_unauthenticated",
        "credentials_wrong_token_is_unauthenticated",
    }
    for name in AUTH_CASES:
        (found,) = [c for c in conformance.runner.matching(name) if c.name == name]
        assert TOKEN in found.needs
    assert READER_TOKEN in next(c for c in conformance.runner.matching("reader_token_reads")).needs
    report = conformance.run(ocpp_server.target, pattern="credentials_*")
    assert report.results == ()
    assert {c.name for c in report.not_run} == AUTH_CASES - {"reader_token_reads", "reader_token_cannot_write"}
    assert "not run, for want of a token" in report.summary()


def test_every_case_passes_against_a_server_with_tokens_and_mutual_tls(pki):
    # The demo data, so that the transaction cases exercise their rules instead of skipping.
    with ReferenceServer(
        store=demo_store(),
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        client_ca=pki.ca_cert,
        tokens=Tokens([ADMIN], [READER]),
    ) as server:
        before = server.store.snapshot()
        report = conformance.run(
            server.target,
            tls=True,
            root_certificates=pki.read("ca_cert"),
            private_key=pki.read("client_key"),
            certificate_chain=pki.read("client_cert"),
            credentials=conformance.Credentials(ADMIN, READER),
        )
        after = server.store.snapshot()
    assert report.ok, report.table()
    assert {r.case.name for r in report.results} >= AUTH_CASES
    assert report.not_run == ()
    for part in ("central_systems", "mappings", "connections"):
        assert after[part] == before[part]


def test_without_a_token_the_kit_is_refused_everywhere(ocpp_server):
    with ReferenceServer(tokens=Tokens([ADMIN])) as server:
        report = conformance.run(server.target, pattern="central_system_create_then_get")
    assert not report.ok
    assert "UNAUTHENTICATED reason=CREDENTIALS_MISSING" in report.failures()[0].got


@pytest.mark.parametrize("variant", sorted(AUTH_VARIANTS))
def test_each_broken_credentials_variant_is_caught_by_its_case(variant, monkeypatch, figure):
    with broken_auth_server(variant, monkeypatch) as server:
        report = conformance.run(
            server.target,
            selected=[c for c in conformance.runner.matching(None) if c.name in AUTH_CASES],
            credentials=conformance.Credentials(ADMIN_TOKEN, BROKEN_READER),
        )
    failed = {r.case.name: r.why for r in report.failures()}
    assert EXPECTED_CATCH[variant] in failed, report.table()
    figure(f"{variant}: caught by {', '.join(sorted(failed))}")


# -- the command line -------------------------------------------------------------------


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return out, err


def test_cli_serves_tls_and_tokens_and_the_kit_passes_every_case(pki, token_files, tmp_path):
    log = tmp_path / "access.log"
    with serving(
        "--demo",
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        "--tokens", str(token_files["tokens"]), "--access-log", str(log),
    ) as (process, target):  # fmt: skip
        kit = run_cli(
            "conformance", "--target", target, "--ca-cert", str(pki.ca_cert),
            "--token-file", str(token_files["admin"]), "--reader-token-file", str(token_files["reader"]),
        )  # fmt: skip
        out, err = _stop(process)
    assert kit.returncode == 0, kit.stdout + kit.stderr
    total = len(conformance.cases(credentials=conformance.Credentials(ADMIN, READER)))
    assert f"{total} passed, 0 failed" in kit.stdout
    for name in AUTH_CASES:
        assert re.search(rf"PASSED +{name}\b", kit.stdout), name
    lines = log.read_text().splitlines()
    assert len(lines) > 100
    assert any('"reason": "READ_ONLY_CREDENTIALS"' in line for line in lines)
    _no_token_in(kit.stdout, kit.stderr, out, err, log.read_text())


def test_cli_access_log_to_standard_error_and_the_token_from_the_environment(token_files):
    with serving("--tokens", str(token_files["tokens"]), "--access-log", "-") as (process, target):
        env = {**os.environ, "OCPP_BROKER_TOKEN": ADMIN}
        kit = subprocess.run(
            [sys.executable, "-m", "ocpp_broker_protos.cli", "conformance", "--target", target, "-k", "credentials_*"],
            capture_output=True, text=True, timeout=300, check=False, env=env,
        )  # fmt: skip
        out, err = _stop(process)
    assert kit.returncode == 0, kit.stdout + kit.stderr
    assert "2 passed, 0 failed" in kit.stdout
    assert '"code": "UNAUTHENTICATED", "reason": "CREDENTIALS_MISSING"' in err
    assert '"code": "UNAUTHENTICATED", "reason": "CREDENTIALS_INVALID"' in err
    _no_token_in(kit.stdout, kit.stderr, out, err)


def _serve_fails(*args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("serve", "--port", "0", *args, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "listening" not in result.stdout
    return result


def test_cli_refuses_a_malformed_token_file_naming_line_and_problem(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text(f"admin {ADMIN}\n\nreader short-one\n")
    result = _serve_fails("--tokens", str(path))
    assert f"error: --tokens {path}:3: a token is 16 to 512 characters long, this one 9" in result.stderr
    _no_token_in(result.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--client-ca", "ca.pem"], "--client-ca needs --tls-cert and --tls-key"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "cannot read --tls-cert missing.pem"),
        (["--tokens", "missing.txt"], "--tokens missing.txt: cannot read"),
        (["--access-log", "/no/such/folder/log"], "cannot open --access-log /no/such/folder/log"),
    ],
)
def test_cli_refuses_unusable_credential_options(args, message):
    assert message in _serve_fails(*args).stderr


def test_the_listening_line_says_how_the_server_is_secured(pki, token_files):
    from ocpp_broker_protos.cli_credentials import ServerOptions, describe

    assert describe(ServerOptions()) == ""
    assert describe(ServerOptions({"tls_cert": b"", "tls_key": b"", "tokens": None})) == " with TLS and tokens"
    assert describe(ServerOptions({"tls_cert": b"", "tls_key": b"", "client_ca": b""})) == " with mutual TLS"


def test_cli_warns_when_it_binds_beyond_loopback_without_credentials(token_files):
    with serving("--host", "0.0.0.0") as (process, _):
        _, err = _stop(process)
    assert "warning: serving on 0.0.0.0 without credentials" in err
    with serving("--host", "0.0.0.0", "--tokens", str(token_files["tokens"])) as (process, _):
        _, err = _stop(process)
    assert "warning" not in err
    with serving() as (process, _):
        _, err = _stop(process)
    assert "warning" not in err


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--token-file", "missing.token"], {}, "cannot read --token-file missing.token"),
        (["--client-cert", "c.pem"], {}, "--client-cert and --client-key go together"),
        (["--reader-token-file", "r.token"], {}, "--reader-token-file needs an admin token too"),
        ([], {"OCPP_BROKER_TOKEN": "two words"}, "OCPP_BROKER_TOKEN: a token is one word"),
    ],
)
def test_kit_refuses_unusable_credential_options(args, env, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ocpp_broker_protos.cli", "conformance", "--target", "127.0.0.1:1", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "OCPP_BROKER_TOKEN"} | env,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "two words" not in result.stderr


def test_kit_presents_a_client_certificate(pki):
    with ReferenceServer(tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert) as server:
        common = [
            "conformance",
            "--target",
            server.target,
            "--ca-cert",
            str(pki.ca_cert),
            "-k",
            "CentralSystemService.*",
        ]
        good = run_cli(*common, "--client-cert", str(pki.client_cert), "--client-key", str(pki.client_key))
        refused = run_cli(*common, "--timeout", "3")
    assert good.returncode == 0, good.stdout + good.stderr
    # Refused at the handshake: the kit finds the target unreachable and runs no case.
    assert refused.returncode == 2
    assert "UNAVAILABLE" in refused.stderr
