"""Rollout of aggregated codes: fan-out per campaign, issue + render + store, status tracking."""
