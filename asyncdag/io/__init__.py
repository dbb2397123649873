"""Loading and saving data: ``asyncdag.io.materialization`` (``to``, ``from_``) for
``Driver.materialize``; the decorators ``@load_from``, ``@save_to``, ``@dataloader`` and
``@datasaver`` live in ``asyncdag.function_modifiers``."""

__all__: list[str] = []
