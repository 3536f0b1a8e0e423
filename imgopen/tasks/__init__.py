"""Task lifecycle: the store (one table), states, executors, leases, cancellation, callbacks."""
