"""Commands people type: send a message, follow delivery events, run the whole system locally.

These sit above the components: they talk to Kafka and the API server like
any producer or user would, and start the operator and workers as processes.
"""
