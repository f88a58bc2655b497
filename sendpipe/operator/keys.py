"""Where the operator gets its sealing keyring: a Secret it reads, or a mounted file / inline value.

The keyring is reloaded on every resync (and when the watched sealing Secret
changes), so adding and activating a new key needs no restart.
"""

from __future__ import annotations

from sendpipe.core.sealing import KeyFormatError, Keyring
from sendpipe.operator.kube import KubeClient
from sendpipe.settings import OperatorSettings, SealingSettings

__all__ = ["KeyFormatError", "load_keyring", "sealing_secret_ref"]


def sealing_secret_ref(settings: OperatorSettings) -> tuple[str, str] | None:
    if not settings.sealing_secret:
        return None
    namespace, _, name = settings.sealing_secret.partition("/")
    return namespace, name


async def load_keyring(*, operator: OperatorSettings, sealing: SealingSettings, kube: KubeClient) -> Keyring:
    """The keyring from the first configured source: Secret, inline JSON, then file."""
    ref = sealing_secret_ref(operator)
    if ref is not None:
        data = await kube.get_secret_data(*ref)
        if data is None:
            raise KeyFormatError(f"sealing Secret {ref[0]}/{ref[1]} not found")
        return Keyring.from_secret_data(data)
    if sealing.keys is not None:
        return Keyring.from_json(sealing.keys.get_secret_value())
    if sealing.keys_file is not None:
        return Keyring.from_path(sealing.keys_file)
    raise KeyFormatError(
        "no sealing keys configured: set SENDPIPE_OPERATOR_SEALING_SECRET=namespace/name, "
        "SENDPIPE_SEALING_KEYS_FILE or SENDPIPE_SEALING_KEYS"
    )
