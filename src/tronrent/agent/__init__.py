"""Agents (resellers): applications, multi-level commission, settlement, withdrawals."""
