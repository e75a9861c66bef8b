"""Errors the command line reports as one clear message instead of a traceback."""


class PipelineError(Exception):
    """A problem the user can fix: bad params, bad data, a failed check. Exit code 1."""


class SettingsError(PipelineError):
    """params.yaml is missing, malformed, or names a key or value the pipeline does not accept."""


class DataError(PipelineError):
    """The input table cannot be read or does not have the shape the pipeline needs."""


class DataValidationError(PipelineError):
    """The data broke its expectations; the message carries the readable summary."""
