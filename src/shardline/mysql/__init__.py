"""MySQL wire protocol: a sans-IO core (bytes in, events and bytes out), an asyncio client and server framework."""
