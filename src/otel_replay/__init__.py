"""otel-replay: replay OpenTelemetry traces, logs and metrics from files into any OTLP endpoint, exactly as recorded."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
