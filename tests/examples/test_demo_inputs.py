"""What `sendpipe up` sends and applies is valid: the burst of messages and the simulator-pointed examples."""

from __future__ import annotations

import json
from pathlib import Path

from sendpipe.console.demo import burst, example_documents
from sendpipe.core.catalog import get_package
from sendpipe.core.messages import parse_send_request
from sendpipe.core.provider import ProviderSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "organizations"


def test_every_burst_message_is_a_valid_send_request() -> None:
    messages = burst(200)
    assert len({m["id"] for m in messages}) == len(messages)
    for message in messages:
        parse_send_request(json.dumps(message))


def test_examples_pointed_at_the_simulator_stay_valid() -> None:
    documents = example_documents(EXAMPLES, simulator_url="http://127.0.0.1:4010", smtp_port=2525)
    secrets = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in documents if d["kind"] == "Secret"}
    providers = [d for d in documents if d["kind"] == "Provider"]
    assert providers
    for provider in providers:
        spec = ProviderSpec.model_validate(provider["spec"])
        package = get_package(spec.package)
        settings = package.settings.model_validate(spec.settings)
        if spec.package != "provider-smtp":
            assert str(settings.base_url).startswith("http://127.0.0.1:4010/")
        secret = secrets[(provider["metadata"]["namespace"], spec.credentials_secret_ref.name)]
        package.credentials.model_validate(secret["stringData"])
