"""The sweeps that ship with htsgd: ``book-*.toml`` (run by the chapters) and ``paper-*.toml``.

Load one by name with :func:`htsgd.sweep.load_config` (``load_config("book-mnist1d")``)
or run it with ``python -m htsgd sweep book-mnist1d``; :func:`htsgd.sweep.config_names`
lists them.
"""
