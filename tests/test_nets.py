"""Tests of htsgd.nets: shapes, the authors' FCN, the mean-field net's formula, VGG-11-wide."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import htsgd as hs
from htsgd.nets import FCN, MeanFieldNet, VGG11Wide


def test_fcn_layers_shapes_and_no_bias():
    net = FCN(784, 50, 3, 10)
    lin = net.linear_layers()
    assert [tuple(m.weight.shape) for m in lin] == [(50, 784), (50, 50), (10, 50)]
    assert all(m.bias is None for m in lin)
    assert net.hidden_layers() == lin[:-1] and net.output_layer is lin[-1]
    assert net(torch.randn(7, 1, 28, 28)).shape == (7, 10)  # images are flattened


def test_fcn_depth_counts_weight_layers():
    assert len(FCN(5, 8, 1, 3).linear_layers()) == 1
    assert len(FCN(5, 8, 2, 3).hidden_layers()) == 1
    assert FCN(5, 8, 2, 3, bias=True).output_layer.bias is not None


def test_fcn_is_relu_network_with_optional_output_scaling():
    torch.manual_seed(0)
    net = FCN(4, 6, 2, 2)
    x = torch.randn(3, 4)
    w1, w2 = (m.weight for m in net.linear_layers())
    torch.testing.assert_close(net(x), torch.relu(x @ w1.T) @ w2.T)
    scaled = FCN(4, 6, 2, 2, scale_output=True)
    scaled.load_state_dict(net.state_dict())
    torch.testing.assert_close(scaled(x), net(x) / 6)


def test_mean_field_formula_and_particles():
    net = MeanFieldNet(5, 40, generator=0)
    x = torch.randn(9, 5)
    expected = (torch.relu(x @ net.weight.T) * net.a).mean(dim=1, keepdim=True)
    torch.testing.assert_close(net(x), expected)
    assert net.particles.shape == (40, 5) and net.particles.data_ptr() == net.weight.data_ptr()
    # The second layer is fixed by default: not a parameter, but saved in the state_dict.
    assert [n for n, _ in net.named_parameters()] == ["weight"]
    assert "a" in net.state_dict()
    assert set(net.a.tolist()) <= {-1.0, 1.0}


def test_mean_field_seeded_and_options():
    a, b = MeanFieldNet(3, 10, generator=4), MeanFieldNet(3, 10, generator=4)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.a, b.a)
    t = MeanFieldNet(3, 10, train_second_layer=True, second_layer="gaussian", activation="tanh", generator=1)
    assert {n for n, _ in t.named_parameters()} == {"weight", "a"}
    assert torch.equal(MeanFieldNet(3, 4, second_layer="ones").a, torch.ones(4))


def test_vgg11_wide_shapes():
    net = VGG11Wide(10, width_factor=1)
    convs = net.conv_layers()
    assert len(convs) == 8 and [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    wide = VGG11Wide(10)
    assert [c.out_channels for c in wide.conv_layers()][:2] == [128, 256]
    assert wide.classifier.in_features == 1024
    assert net.hidden_layers() == convs[1:]


@pytest.mark.parametrize(
    "make,exc",
    [
        (lambda: FCN(0, 5, 2, 2), ValueError),
        (lambda: FCN(3, 5, 0, 2), ValueError),
        (lambda: FCN(3, 5.0, 2, 2), TypeError),
        (lambda: FCN(3, 5, 2, 2, bias=1), TypeError),
        (lambda: MeanFieldNet(3, 5, activation="gelu"), ValueError),
        (lambda: MeanFieldNet(3, 5, second_layer="zeros"), ValueError),
        (lambda: VGG11Wide(0), ValueError),
    ],
)
def test_bad_arguments(make, exc):
    with pytest.raises(exc):
        make()


def test_nets_reachable_from_package():
    assert hs.nets.FCN is FCN and issubclass(VGG11Wide, nn.Module)
