"""Failures the bridge reports, as exceptions that carry its error code."""

from __future__ import annotations


class BridgeError(Exception):
    """A call the bridge answered with ``{"success": false, "error": {code, message}}``.

    ``code`` is the bridge's (``CALL_TIMEOUT``, ``DLL_DISCONNECTED``,
    ``INVALID_FUNCTION``, …) or the game's own (usually ``LUA_EXECUTION_ERROR``).
    """

    def __init__(self, code: str, message: str, status: int = 200, details: object = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details


def unwrap(status: int, body: object) -> object:
    """The result of an envelope, or the failure it reports, raised."""
    if not isinstance(body, dict):
        raise BridgeError("SERIALIZATION_ERROR", f"the bridge answered {body!r}", status)
    if body.get("success") is False:
        error = body.get("error")
        if isinstance(error, dict):
            raise BridgeError(
                str(error.get("code", "UNKNOWN")), str(error.get("message", "")), status, error.get("details")
            )
        raise BridgeError("UNKNOWN", str(error or body), status)
    if status >= 400:
        raise BridgeError("HTTP_" + str(status), str(body.get("detail", body)), status)
    # The pause routes answer at the top level, as the Vox Deorum bridge does.
    return body["result"] if "result" in body else {k: v for k, v in body.items() if k != "success"}
