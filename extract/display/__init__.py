"""What config.toml says about showing runs, shared by the front ends that show them (the
terminal UI and the browser UI): ``[summary]``, ``[info] fields`` globs, ``[compare]``,
``[[tables.highlight]]``, ``[theme]``, ``[notifications]`` (``settings``), and the field
glob matcher (``fields``). The store's own sections stay in ``store/config.py``.
"""
