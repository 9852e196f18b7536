"""errors.py owns the one exception family whose messages are safe to show to a user: every exception a
user can see is defined here. Anything that is not a `UserFacingError` is a bug: the UI logs it and shows
a generic message. It knows nothing about where each one is raised.
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


class DatasetError(InputRejected):
    """A training dataset file or source cannot be used as it is; the message says which rows or columns."""


class Cancelled(UserFacingError):
    """A background job was cancelled (SIGTERM from `jobs.stop`); raised inside the job process."""


class ExportDiskError(UserFacingError):
    """The export folder is full, read-only or not writable."""


class VerificationFailed(UserFacingError):
    """The exported files do not reproduce the PyTorch model within tolerance."""


class PublishError(UserFacingError):
    """An upload to the Hugging Face Hub could not happen (no network, token rejected, no permission)."""


class DatabaseError(UserFacingError):
    """The PostgreSQL database (MEDGEMMA_DATABASE_URL) cannot be used: a wrong URL, refused connection,
    missing extension or schema mismatch; the message names it, with the password masked."""
