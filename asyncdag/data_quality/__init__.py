"""Hamilton's ``data_quality`` package: the validator interface of ``@check_output_custom``."""

__all__: list[str] = []
