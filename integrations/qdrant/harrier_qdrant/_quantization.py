"""Vector quantization as a collection option, for Qdrant Edge and for Qdrant servers.

``scalar`` keeps one int8 per dimension (4x smaller), ``binary`` one bit (32x smaller); the
original vectors stay on disk and every search rescores its oversampled candidates with them.
"""

from __future__ import annotations

from typing import Any

from harrier.stores import ConfigurationError

QUANTIZATIONS = ("binary", "scalar")
OVERSAMPLING = {"scalar": 2.0, "binary": 3.0}
_QUANTILE = 0.99


def check_quantization(name: str | None) -> str | None:
    """``None``, ``"scalar"`` or ``"binary"``; anything else is refused."""
    if name is not None and name not in QUANTIZATIONS:
        raise ConfigurationError(
            f"unknown quantization {name!r}; use one of {', '.join(QUANTIZATIONS)} (or none)"
        )
    return name


def edge_quantization(name: str | None) -> Any:
    """The ``qdrant_edge`` quantization config for ``name`` (None: full vectors only)."""
    import qdrant_edge as edge

    if check_quantization(name) is None:
        return None
    if name == "scalar":
        return edge.ScalarQuantizationConfig(
            edge.ScalarType.Int8, quantile=_QUANTILE, always_ram=True
        )
    return edge.BinaryQuantizationConfig(always_ram=True)


def edge_search_params(name: str | None) -> Any:
    """Search parameters that rescore quantized candidates on the original vectors."""
    import qdrant_edge as edge

    if name is None:
        return None
    return edge.SearchParams(
        quantization=edge.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING[name])
    )


def client_quantization(name: str | None) -> Any:
    """The ``qdrant_client`` quantization config for ``name``, for servers and local mode."""
    from qdrant_client import models

    if check_quantization(name) is None:
        return None
    if name == "scalar":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=_QUANTILE, always_ram=True
            )
        )
    return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))


def client_search_params(name: str | None) -> Any:
    """The ``qdrant_client`` search parameters matching :func:`edge_search_params`."""
    from qdrant_client import models

    if name is None:
        return None
    return models.SearchParams(
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING[name])
    )
