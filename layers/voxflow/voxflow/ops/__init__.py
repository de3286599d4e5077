"""Operations on a running deployment: redrive dead letters, sweep stuck jobs."""
