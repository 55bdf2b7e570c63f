"""The running bot: turns, delivery, rate limits, the scheduler and its jobs, the server."""
