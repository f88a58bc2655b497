"""Adapters against the conformance table with respx: exact requests, every documented reply mapped.

No simulator is involved, so a simulator bug cannot hide an adapter bug.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from sendpipe.core.outcomes import Outcome
from sendpipe.providers import ProviderClient, get_adapter
from tests.providers.cases import HTTP_CASES, WA_TEMPLATE, WHATSAPP_TEMPLATE, Case, ErrorCase, body



@pytest.fixture
async def client() -> AsyncIterator[ProviderClient]:
    """respx intercepts httpx's own transport; the request building and reply mapping are transport-independent."""
    async with ProviderClient(transport=httpx.AsyncHTTPTransport()) as provider_client:
        yield provider_client


ERROR_PARAMS = [pytest.param(case, error, id=f"{case.package}-{error.name}") for case in HTTP_CASES for error in case.errors]


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda c: c.package)
async def test_success_sends_the_documented_request(case: Case, client: ProviderClient) -> None:
    request, credentials, settings = case.parsed()
    with respx.mock(assert_all_called=True) as router:
        route = router.post(case.url).mock(return_value=case.success.response())
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.SUCCESS, result
    assert result.provider_message_id == case.message_id
    assert result.http_status == case.success.status and result.error is None and not result.possible_duplicate
    assert result.latency_ms >= 0
    sent = route.calls.last.request
    assert sent.method == "POST" and str(sent.url) == case.url
    case.check(sent)


@pytest.mark.parametrize(("case", "error"), ERROR_PARAMS)
async def test_each_reply_maps_to_one_outcome(case: Case, error: ErrorCase, client: ProviderClient) -> None:
    request, credentials, settings = case.parsed()
    with respx.mock(assert_all_called=True) as router:
        router.post(case.url).mock(return_value=error.reply.response())
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is error.outcome, result
    assert result.http_status == error.reply.status
    assert result.error and len(result.error) <= 300
    assert result.provider_message_id is None
    if error.retry_after is not None:
        assert result.retry_after_seconds == error.retry_after


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda c: c.package)
async def test_base_url_setting_points_the_adapter_elsewhere(case: Case, client: ProviderClient) -> None:
    request, credentials, settings = case.parsed()
    settings = settings.model_copy(update={"base_url": "http://127.0.0.1:9/sim/prefix"})
    path = httpx.URL(case.url).path
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"http://127.0.0.1:9/sim/prefix{path}").mock(return_value=case.success.response())
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.SUCCESS and route.called


@pytest.mark.parametrize("package", ["provider-meta-cloud", "provider-360dialog"])
async def test_whatsapp_template_body(package: str, client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == package)
    request, credentials, settings = case.parsed(WHATSAPP_TEMPLATE)
    with respx.mock() as router:
        route = router.post(case.url).mock(return_value=case.success.response())
        result = await get_adapter(package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.SUCCESS
    assert body(route.calls.last.request) == WA_TEMPLATE


async def test_twilio_whatsapp_does_not_send_templates(client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == "provider-twilio-whatsapp")
    request, credentials, settings = case.parsed(WHATSAPP_TEMPLATE)
    adapter = get_adapter(case.package)
    assert not adapter.supports(request)  # type: ignore[attr-defined]
    with respx.mock(assert_all_called=False) as router:
        route = router.post(case.url)
        result = await adapter.send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.FAIL_PROVIDER and not route.called


async def test_twilio_sms_uses_from_when_there_is_no_messaging_service(client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == "provider-twilio-sms")
    request, credentials, _ = case.parsed()
    from sendpipe.core.catalog.sms import TwilioSmsSettings

    settings = TwilioSmsSettings.model_validate({"from": "+15005550006"})
    with respx.mock() as router:
        route = router.post(case.url).mock(return_value=case.success.response())
        await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    from tests.providers.cases import form

    assert form(route.calls.last.request) == {"To": "+254711000001", "From": "+15005550006", "Body": "Code 1234"}


@pytest.mark.parametrize(
    ("region", "url"),
    [("us", "https://api.mailgun.net/v3/mg.acme.example/messages"), ("eu", "https://api.eu.mailgun.net/v3/mg.acme.example/messages")],
)
async def test_mailgun_regions(region: str, url: str, client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == "provider-mailgun")
    request, credentials, settings = case.parsed()
    settings = settings.model_copy(update={"region": region})
    with respx.mock(assert_all_called=True) as router:
        router.post(url).mock(return_value=case.success.response())
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.SUCCESS


async def test_africastalking_production_host(client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == "provider-africastalking")
    request, credentials, settings = case.parsed()
    settings = settings.model_copy(update={"environment": "production"})
    with respx.mock(assert_all_called=True) as router:
        router.post("https://api.africastalking.com/version1/messaging").mock(return_value=case.success.response())
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.outcome is Outcome.SUCCESS


async def test_error_summaries_never_contain_credentials(client: ProviderClient) -> None:
    case = next(c for c in HTTP_CASES if c.package == "provider-sendgrid")
    request, credentials, settings = case.parsed()
    echo = httpx.Response(400, json={"errors": [{"message": f"bad key {credentials.api_key.get_secret_value()}"}]})
    with respx.mock() as router:
        router.post(case.url).mock(return_value=echo)
        result = await get_adapter(case.package).send(request, credentials=credentials, settings=settings, client=client)
    assert result.error is not None and credentials.api_key.get_secret_value() not in result.error and "***" in result.error
