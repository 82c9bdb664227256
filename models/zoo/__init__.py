"""The model zoo: the networks of the registry, one module per family.

Each public module here defines a family's networks and registers its entries with
:func:`prosparsity.models.registry.register_model` when imported; the registry imports
them by discovery (a new family module needs no list edited anywhere). Modules whose
name starts with ``_`` hold shared parts and register nothing.
"""
