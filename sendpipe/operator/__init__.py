"""The Kopf operator: Provider resources in, validated status and sealed routing records out.

Handlers (``handlers``) only feed the in-memory ``model``; one ``reconciler``
task turns the model into routing records (``publisher``) and Provider
statuses (``status``), coalescing bursts of events; ``healthsync`` feeds the
health verdicts from Kafka into the same model. ``app`` wires it into Kopf.
"""
