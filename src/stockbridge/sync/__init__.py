"""The four steps of the sync cycle and the run lifecycle (leases, merging, recording)."""
