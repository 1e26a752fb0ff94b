"""Networks: the mean-field two-layer net of the theory, the authors' FCN, VGG-11-wide and a small CNN.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

In every network a hidden neuron is one row of a weight tensor (``nn.Linear``
weights are ``(out, in)``; a convolution's are ``(out, in, k, k)``, one filter per
row). The paper writes the hidden weights as ``Theta in R^{d x n}`` with neurons as
*columns*; torch stores the transpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ._checks import check_bool, check_choice, check_int, check_real
from ._random import SeedLike, torch_generator

__all__ = ["FCN", "MeanFieldNet", "SmallCNN", "VGG11Wide", "VGG11_CONFIG"]


class FCN(nn.Module):
    """A fully connected ReLU network as the authors use it: no biases, no output scaling.

    Parameters
    ----------
    input_dim : int
        Input features (inputs with more dimensions are flattened).
    width : int
        Neurons in every hidden layer.
    depth : int
        Number of weight layers, >= 1: ``depth = 2`` is one hidden layer
        (``input_dim -> width -> num_classes``).
    num_classes : int
        Outputs (classes for cross-entropy, or the output dimension for regression).
    bias : bool
        Biases in every layer (the authors use none).
    scale_output : bool
        Multiply the output by ``1 / width`` (the mean-field scaling of the theory;
        the authors turn it off, as is the default here).

    Notes
    -----
    Layers use PyTorch's default initialisation; seed with ``torch.manual_seed``
    before construction. Input ``(batch, *)``, output ``(batch, num_classes)``.
    Introduced in the chapter *Heavy-tailed SGD*.
    """

    def __init__(
        self,
        input_dim: int,
        width: int,
        depth: int,
        num_classes: int,
        bias: bool = False,
        *,
        scale_output: bool = False,
    ) -> None:
        super().__init__()
        self.input_dim = check_int("input_dim", input_dim, low=1)
        self.width = check_int("width", width, low=1)
        self.depth = check_int("depth", depth, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=1)
        self.bias = check_bool("bias", bias)
        self.scale_output = check_bool("scale_output", scale_output)
        dims = [self.input_dim] + [self.width] * (self.depth - 1) + [self.num_classes]
        layers: list[nn.Module] = []
        for i in range(self.depth):
            layers.append(nn.Linear(dims[i], dims[i + 1], bias=self.bias))
            if i < self.depth - 1:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x.flatten(1) if x.dim() > 2 else x)
        return out / self.width if self.scale_output else out

    def linear_layers(self) -> list[nn.Linear]:
        """All weight layers in order; the last one is the output layer."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def hidden_layers(self) -> list[nn.Linear]:
        """The hidden ``nn.Linear`` layers (all but the output layer): the ones pruned and noised."""
        return self.linear_layers()[:-1]

    @property
    def output_layer(self) -> nn.Linear:
        return self.linear_layers()[-1]


_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class MeanFieldNet(nn.Module):
    """The two-layer network of the theory: ``f(x) = (1/n) sum_i a_i phi(<w_i, x>)``.

    The hidden weights form an ``(n, d)`` matrix ``weight`` whose rows are the
    neurons, seen as ``n`` interacting particles in ``R^d``; :attr:`particles`
    returns it. The second layer ``a`` is fixed by default, as in the paper's
    theory.

    Parameters
    ----------
    input_dim : int
        ``d``.
    width : int
        ``n``.
    activation : {"relu", "tanh"}
        ``phi``.
    second_layer : {"sign", "gaussian", "ones"}
        Initial ``a_i``: random signs, ``N(0, 1)``, or all ones.
    train_second_layer : bool
        Make ``a`` a trainable parameter (it never receives noise).
    init_scale : float
        Rows drawn ``w_i ~ N(0, init_scale**2 I_d / d)``.
    generator : None, int or torch.Generator
        Seed of the initialisation.

    Notes
    -----
    With the ``1/n`` output the gradient of the loss with respect to one neuron is
    ``O(1/n)``. One mean-field step of time ``eta`` moves each neuron by the drift
    ``-eta * n * grad`` and the Levy increment ``sigma * eta**(1/alpha) * S``: train with
    :func:`htsgd.meanfield.train_meanfield`. Passing ``lr = n * eta`` to
    :class:`htsgd.optim.HeavyTailedSGD` gives the right drift but the noise
    ``sigma * (n * eta)**(1/alpha)``, the increment of a time step ``n * eta``.
    Input ``(batch, d)``, output ``(batch, 1)``.
    Introduced in the chapter *Heavy-tailed SGD*.
    """

    def __init__(
        self,
        input_dim: int,
        width: int,
        *,
        activation: str = "relu",
        second_layer: str = "sign",
        train_second_layer: bool = False,
        init_scale: float = 1.0,
        generator: SeedLike = None,
    ) -> None:
        super().__init__()
        self.input_dim = check_int("input_dim", input_dim, low=1)
        self.width = check_int("width", width, low=1)
        self.activation = check_choice("activation", activation, tuple(_ACTIVATIONS))
        check_choice("second_layer", second_layer, ("sign", "gaussian", "ones"))
        check_bool("train_second_layer", train_second_layer)
        init_scale = check_real("init_scale", init_scale, low=0.0)
        gen = torch_generator(generator, "cpu")
        w = torch.randn(self.width, self.input_dim, generator=gen) * (init_scale / self.input_dim**0.5)
        if second_layer == "sign":
            a = torch.randint(0, 2, (self.width,), generator=gen).float() * 2 - 1
        elif second_layer == "gaussian":
            a = torch.randn(self.width, generator=gen)
        else:
            a = torch.ones(self.width)
        self.weight = nn.Parameter(w)
        if train_second_layer:
            self.a = nn.Parameter(a)
        else:
            self.register_buffer("a", a)

    @property
    def particles(self) -> torch.Tensor:
        """The neurons as particles: the ``(n, d)`` hidden weight matrix (a view, no copy)."""
        return self.weight

    def noisy_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters the theory drives with Levy noise: the hidden weights only."""
        yield self.weight

    def hidden_layers(self) -> list[Any]:
        """A list holding this module itself: its ``weight`` is the one hidden layer's."""
        return [self]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _ACTIVATIONS[self.activation](x @ self.weight.T)
        return (h @ self.a / self.width).unsqueeze(-1)


#: VGG-11's convolution widths ("M" is 2x2 max pooling), before widening.
VGG11_CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11Wide(nn.Module):
    """VGG-11 with doubled channels, global average pooling and one linear layer (CIFAR-10).

    Parameters
    ----------
    num_classes : int
        Outputs.
    in_channels : int
        Input channels (3 for CIFAR-10).
    width_factor : int
        Channel multiplier (2 for the authors' "wide" VGG-11).
    batch_norm : bool
        Batch normalisation after each convolution (its parameters never get noise).
    bias : bool
        Biases in the convolutions and the linear layer.

    Notes
    -----
    Input ``(batch, in_channels, H, W)``; output ``(batch, num_classes)``. The first
    convolution and the linear layer get no noise under
    :func:`htsgd.optim.paper_param_groups`; every other convolution gets one noise
    draw per filter. Introduced in the chapter *Heavy-tailed SGD*.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_channels: int = 3,
        width_factor: int = 2,
        batch_norm: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, low=1)
        in_channels = check_int("in_channels", in_channels, low=1)
        width_factor = check_int("width_factor", width_factor, low=1)
        check_bool("batch_norm", batch_norm)
        check_bool("bias", bias)
        layers: list[nn.Module] = []
        c = in_channels
        for v in VGG11_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            out = int(v) * width_factor
            layers.append(nn.Conv2d(c, out, 3, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, self.num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def conv_layers(self) -> list[nn.Conv2d]:
        """The convolutions in order."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    def hidden_layers(self) -> list[nn.Conv2d]:
        """The convolutions after the first: the layers the authors noise and prune."""
        return self.conv_layers()[1:]


class SmallCNN(nn.Module):
    """A small convolutional network for digits: two strided 5 x 5 convolutions with ReLU, one linear layer.

    ``conv1``: ``channels -> width`` filters, 5 x 5, stride 2, padding 2, ReLU (28 x 28 -> 14 x 14);
    ``conv2``: ``width -> 2 width`` filters, the same (14 x 14 -> 7 x 7); then ``classifier``, one
    ``nn.Linear`` from the ``2 width * ceil(H/4) * ceil(W/4)`` features to ``num_classes``. No biases by
    default (as the authors' FCN), no normalisation, no output scaling. Strides instead of max pooling:
    on one CPU thread 2 x 2 max pooling made a training step 3.5 times and an evaluation 10 times as
    expensive (measured at width 8, batch 128), and the sweeps train hundreds of these.

    Parameters
    ----------
    num_classes : int
        Outputs.
    width : int
        Filters of the first convolution (the second has ``2 * width``).
    image_shape : tuple of int
        ``(channels, H, W)`` of one input.
    bias : bool
        Biases in the convolutions and the linear layer.

    Notes
    -----
    Input ``(batch, channels, H, W)``, or ``(batch, channels * H * W)`` (flattened images, as
    :func:`htsgd.data.mnist_digits` gives them by default: reshaped here); output
    ``(batch, num_classes)``. Which layers do what, as the authors' code does for its VGG:

    * noise (:func:`htsgd.optim.paper_param_groups`): every convolution but the first, so ``conv2``
      alone, one noise draw per output filter for type 1 (a weight ``(2 width, width, 5, 5)`` gets
      ``2 width`` scalars, each added to all ``25 width`` weights of its filter); ``conv1`` and the
      classifier get none;
    * pruning (:func:`htsgd.compress.hidden_layers`): every layer but the output ``nn.Linear``, so both
      convolutions, whole filters by their l2 norm (a zeroed filter outputs 0 after the ReLU, so pruning
      it removes its channel).

    Weights: ``25 channels width + 50 width^2 + 2 width ceil(H/4) ceil(W/4) num_classes``: 28,880 at
    width 16 on 28 x 28 digits. Introduced in the chapter *Heavy-tailed SGD*.
    """

    def __init__(
        self,
        num_classes: int,
        width: int,
        *,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, low=1)
        self.width = check_int("width", width, low=1)
        self.bias = check_bool("bias", bias)
        if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
            raise ValueError(f"image_shape must be (channels, H, W), got {image_shape!r}")
        self.image_shape = tuple(check_int(f"image_shape[{i}]", v, low=1) for i, v in enumerate(image_shape))
        channels, height, wide = self.image_shape
        self.conv1 = nn.Conv2d(channels, self.width, 5, stride=2, padding=2, bias=self.bias)
        self.conv2 = nn.Conv2d(self.width, 2 * self.width, 5, stride=2, padding=2, bias=self.bias)
        # A 5 x 5 convolution with stride 2 and padding 2 maps a side s to ceil(s / 2).
        features = 2 * self.width * -(-height // 4) * -(-wide // 4)
        self.classifier = nn.Linear(features, self.num_classes, bias=self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.image_shape)  # flat digits or images alike
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.classifier(x.flatten(1))

    def conv_layers(self) -> list[nn.Conv2d]:
        """The convolutions in order."""
        return [self.conv1, self.conv2]

    def hidden_layers(self) -> list[nn.Conv2d]:
        """The convolutions: the layers pruned (the noise skips the first, see the class notes)."""
        return self.conv_layers()
