"""errors.py owns the one exception family whose messages are safe to show to a user.

Anything that is not a `UserFacingError` is a bug: the UI logs it and shows a generic message.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message names the problem and is safe to show in the UI or CLI."""


class ConfigError(UserFacingError):
    """A setting, YAML file or CLI flag has a value that cannot work."""


class ModelNotAvailable(UserFacingError):
    """A model, backend or packaged weight file cannot be loaded here (and the message says why)."""


class IngestError(UserFacingError):
    """A document could not be read, parsed or indexed."""


class IndexNotReady(UserFacingError):
    """No usable index exists yet (or it is being built)."""


class InputRejected(UserFacingError):
    """A request was refused because it breaks a limit (size, type, rate)."""


class AuthError(UserFacingError):
    """An admin action was attempted without a valid admin session."""


class FeatureUnavailable(UserFacingError):
    """A feature cannot run on this machine (e.g. TensorRT without CUDA); the message says what is missing."""
