"""Typed run-time settings (``system_configs``) with their history (``system_config_history``)."""
