"""Hamilton-style modules, written against ``hamilton``; tests port them with a text change."""
