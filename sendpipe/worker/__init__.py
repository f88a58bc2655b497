"""The data plane: a Faust worker that consumes send topics, routes with failover, and owns provider health.

Faust stays inside this subpackage. ``app`` declares the Faust app (imported
only by ``commands``, since importing it reads the environment); ``delivery``,
``ordering``, ``health_agent``, ``views``, ``dlq`` and ``metrics`` are plain
Python around the core.
"""
