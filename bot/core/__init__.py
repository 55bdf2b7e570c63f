"""The vocabulary every layer shares: events, messages, the ports, texts, settings, router."""
