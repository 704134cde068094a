"""What an operator watches: readiness (``readiness``), Prometheus metrics (``metrics``), and
the lines logged for each job and device (``telemetry``)."""
