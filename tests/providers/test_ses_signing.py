"""SES requests are signed correctly: httpx-auth's SigV4 signature equals botocore's for the same request."""

from __future__ import annotations

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sendpipe.providers.ses import ADAPTER
from tests.providers.cases import SES


def _signed(session_token: str | None = None) -> httpx.Request:
    request, credentials, settings = SES.parsed()
    if session_token:
        credentials = credentials.model_copy(update={"session_token": __import__("pydantic").SecretStr(session_token)})
    call = ADAPTER.build(request, credentials, settings)
    built = httpx.Request(call.method, call.url, json=call.json_body)
    assert call.auth is not None and isinstance(call.auth, httpx.Auth)
    return next(call.auth.sync_auth_flow(built))


def _botocore_signature(request: httpx.Request, token: str | None = None) -> str:
    signed_headers = request.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: request.headers[name] for name in signed_headers}
    aws = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
    aws.context["timestamp"] = request.headers["x-amz-date"]
    creds = Credentials(SES.credentials["access_key_id"], SES.credentials["secret_access_key"], token)
    signer = SigV4Auth(creds, "ses", "us-east-1")
    canonical = signer.canonical_request(aws)
    return signer.signature(signer.string_to_sign(aws, canonical), aws)


def test_signature_matches_botocore() -> None:
    request = _signed()
    header = request.headers["authorization"]
    assert header.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/")
    assert "/us-east-1/ses/aws4_request" in header
    assert header.split("Signature=")[1] == _botocore_signature(request)


def test_session_token_is_sent_and_signed() -> None:
    request = _signed("FwoGZXIvYXdzEXAMPLETOKEN")
    assert request.headers["x-amz-security-token"] == "FwoGZXIvYXdzEXAMPLETOKEN"
    assert "x-amz-security-token" in request.headers["authorization"]
    assert request.headers["authorization"].split("Signature=")[1] == _botocore_signature(request, "FwoGZXIvYXdzEXAMPLETOKEN")
