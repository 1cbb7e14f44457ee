"""The sandbox: student code in its own isolated interpreter, reached only through :mod:`autograder.channel`."""

from autograder.sandbox.limits import Limits
from autograder.sandbox.session import Sandbox, SandboxFailure, SandboxUnavailableError

__all__ = ["Limits", "Sandbox", "SandboxFailure", "SandboxUnavailableError"]
