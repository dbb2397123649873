"""Hamilton's plugin paths: ``asyncdag.plugins.h_tqdm`` and friends, importable the same way."""
