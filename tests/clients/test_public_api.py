"""The client packages list their public API in ``__all__``, and nothing else is public."""

from __future__ import annotations

import types

import pytest

import gateway_client
import shop_client


@pytest.mark.parametrize("package", [gateway_client, shop_client], ids=lambda p: p.__name__)
def test_all_lists_exactly_the_public_names(package):
    public = sorted(
        name for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert package.__all__ == public


@pytest.mark.parametrize("package", [gateway_client, shop_client], ids=lambda p: p.__name__)
def test_every_exported_name_resolves(package):
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_both_packages_share_one_error_tree():
    assert shop_client.MtsFaultError is gateway_client.MtsFaultError
    assert shop_client.ServiceUnavailable is gateway_client.ServiceUnavailable
    assert issubclass(shop_client.UntrustedResponse, gateway_client.ServiceUnavailable)
