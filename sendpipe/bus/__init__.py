"""Kafka plumbing shared by the operator and the worker.

Connection options, topic creation, and the full-topic reader of compacted
topics (routing tables and health verdicts) that every worker and the
operator keep in memory. Built on aiokafka; Faust stays inside ``worker``.
"""
