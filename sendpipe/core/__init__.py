"""The logic the operator and the worker share: models, catalog, outcomes, health, routing.

Pure: imports the standard library, pydantic, phonenumbers and cryptography only
(checked by import-linter), so it is fast to test and easy to reason about.
"""
