"""help(lotusx) names what the top package exports beside the kernel: the entry point and the models."""

from __future__ import annotations

import lotusx
from lotusx.kernel import __all__ as kernel_all


def test_the_package_docstring_names_every_export_beyond_the_kernels() -> None:
    """connect, Venue and each model the package exports appear in its docstring."""
    doc = lotusx.__doc__ or ""
    missing = [name for name in lotusx.__all__ if name not in kernel_all and f"``{name}``" not in doc]
    assert not missing
