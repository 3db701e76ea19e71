"""The MLP of vanishing_gradients with its hidden layers stacked: one compile for every depth.

A depth-L network has L weight layers, 40 -> width × (L − 1) -> 10:

    z_1 = x W_1 + b_1,                       h_1 = φ(z_1)
    z_ℓ = h_{ℓ−1} W_ℓ + b_ℓ  (ℓ = 2..L−1),    h_ℓ = φ(LN(z_ℓ)) [+ h_{ℓ−1}]
    logits = h_{L−1} W_L + b_L

(LN: layer norm without learned scale when ``normalize``; the skip when ``residual``.)
The square layers W_2..W_{M−1} of a network of maximal depth M are one array of shape
(M − 2, width, width) run by ``lax.scan``; a layer at or beyond the (traced) ``depth``
is skipped, h passes through unchanged and its gradient is exactly 0. So one compiled
function serves every depth ≤ M, and the depth can be swept like a learning rate
(``train.sweep`` passes grid names the optimizer does not take to the loss).

Per-layer arrays (``layer_norms``) are in the order W_1, W_2, …, W_{M−1}, W_L;
``select(values, depth)`` keeps the L entries of a depth-L network.

``as_layers`` turns the stacked params into a list of L layers {"w", "b"} (the layout
of ``gdlab.models.mlp``) and ``layers_loss`` trains that list through the same forward,
so the training instruments (one "layer" = one top-level child of the params) see
every layer on its own.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gdlab import gradients, linalg, losses, models

IN, OUT = 40, 10
# init name -> (models.init_weight rule, gain); "normal_*" use std = gain/√width
RULES = {"normal_small": "normal", "normal_large": "normal", "xavier": "xavier", "he": "he",
         "orthogonal": "orthogonal"}


def weight(z, rule: str, scale: float = 1.0):
    """An (n_in, n_out) weight by ``models.init_weight``'s rule from standard normal draws
    ``z`` of that shape: normal (std ``scale``), xavier (scale·√(2/(n_in + n_out))), he
    (scale·√(2/n_in)), orthogonal (scale · Q of z = QR, signs fixed by diag R, as
    ``jax.nn.initializers.orthogonal``)."""
    n_in, n_out = z.shape
    if rule == "orthogonal":
        a = z if n_in >= n_out else z.T
        q, r = linalg.qr(a)  # not jnp.linalg.qr: see gdlab.linalg (a hang)
        q = q * jnp.sign(jnp.diag(r))[None]
        return scale * (q if n_in >= n_out else q.T)
    std = {"normal": 1.0, "xavier": math.sqrt(2 / (n_in + n_out)), "he": math.sqrt(2 / n_in)}
    return scale * std[rule] * z


def init(key, *, width: int, max_depth: int, rule: str, scale: float = 1.0, dtype=jnp.float32):
    """Parameters {"first", "hidden", "last"} of a depth-``max_depth`` network (biases 0).

    Every weight comes from ONE standard normal draw [W_1, W_L, W_2, …, W_{M−1}] (each
    separate draw costs XLA seconds to compile, one draw a fraction of one); the hidden
    layers come last, so a depth-d network is the same in every stack of depth ≥ d."""
    sizes = np.cumsum([IN * width, width * OUT])
    z = jax.random.normal(key, (int(sizes[-1]) + (max_depth - 2) * width * width,), dtype)
    hidden = z[sizes[-1]:].reshape(max_depth - 2, width, width)
    first = weight(z[: sizes[0]].reshape(IN, width), rule, scale)
    last = z[sizes[0]: sizes[1]].reshape(width, OUT)
    last = weight(last, rule, scale)
    hidden = (jax.vmap(lambda a: weight(a, rule, scale))(hidden) if max_depth > 2
              else hidden)
    return {"first": {"w": first, "b": jnp.zeros(width, dtype)},
            "hidden": {"w": hidden, "b": jnp.zeros((max_depth - 2, width), dtype)},
            "last": {"w": last, "b": jnp.zeros(OUT, dtype)}}


@functools.cache  # one object per init: train.sweep caches its compiled program by identity
def init_fn(name: str, *, width: int, max_depth: int, gain: float, dtype=jnp.float32):
    """``key -> params`` for an init name of ``RULES`` with the given gain."""
    rule = RULES[name]
    scale = gain / math.sqrt(width) if rule == "normal" else 1.0
    return functools.partial(init, width=width, max_depth=max_depth, rule=rule, scale=scale,
                             dtype=dtype)


def init_key(seed):
    """The init key of ``seed`` as ``train.sweep`` makes it (split(key(seed))[0]), so seed s
    is the same network at init and in training."""
    return jax.random.split(jax.random.key(seed))[0]


@functools.partial(jax.jit, static_argnames=("inits", "width", "max_depth", "dtype"))
def init_stack(seeds, *, inits: tuple, width: int, max_depth: int, dtype=jnp.float32):
    """Params of every (init name, gain) of ``inits`` (axis 0) and seed (axis 1), in one
    compiled call (an eager vmap would compile every primitive on its own)."""
    keys = jax.vmap(init_key)(jnp.asarray(seeds))
    trees = [jax.vmap(init_fn(name, width=width, max_depth=max_depth, gain=g, dtype=dtype))(keys)
             for name, g in inits]
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def _layer_norm(z):
    mean = jnp.mean(z, axis=-1, keepdims=True)
    return (z - mean) * jax.lax.rsqrt(jnp.mean(jnp.square(z - mean), -1, keepdims=True) + 1e-5)


def _architecture(activation, residual, normalize):
    """(φ, z -> LN(z) or z, (h, a) -> h + a or a). Each may be fixed (a name, a bool) or
    traced (an index into ``models.ACTIVATIONS``, a bool array), so one compiled function
    can serve every architecture. A traced activation computes every candidate and
    selects one (no ``lax.switch``: a conditional inside this scan once hung XLA's CPU
    runtime; the candidates are cheap next to the matrix products)."""
    if isinstance(activation, str):
        act = models.get_activation(activation)
    else:
        fns = [models.get_activation(a) for a in models.ACTIVATIONS]
        act = lambda z: jnp.select([activation == i for i in range(len(fns))],  # noqa: E731
                                   [f(z) for f in fns])
    if isinstance(normalize, bool):
        norm = _layer_norm if normalize else (lambda z: z)
    else:
        norm = lambda z: jnp.where(normalize, _layer_norm(z), z)  # noqa: E731
    if isinstance(residual, bool):
        skip = (lambda h, a: h + a) if residual else (lambda h, a: a)
    else:
        skip = lambda h, a: jnp.where(residual, h + a, a)  # noqa: E731
    return act, norm, skip


def architecture(activation: str, residual: bool = False, normalize: bool = False) -> dict:
    """The traced form of an architecture for ``forward``/``measure`` (the same compiled
    function for every architecture)."""
    return {"activation": jnp.int32(models.ACTIVATIONS.index(activation)),
            "residual": jnp.bool_(residual), "normalize": jnp.bool_(normalize)}


def forward(params, x, depth, *, activation, residual=False, normalize=False, eps=None,
            hidden=False, unroll: bool = False):
    """Logits of the depth-``depth`` network; ``eps`` (optional) is added to every z_ℓ
    (ℓ = 1..L−1, and the logits), so ∂L/∂eps is the error signal δ_ℓ. With ``hidden``:
    (logits, [h_1, h_2 … h_{M−1}] stacked), layers beyond the depth repeating h_{L−1}.
    ``unroll``: unroll the scan over the hidden layers (XLA then fuses across layers:
    ~20% less compute per step for ~2× the compile time; pays for long budgets).
    ``activation``, ``residual``, ``normalize``: fixed or traced (``architecture``)."""
    act, norm, skip = _architecture(activation, residual, normalize)
    dtype = params["first"]["w"].dtype
    eps = eps or {"first": jnp.zeros((), dtype), "last": jnp.zeros((), dtype),
                  "hidden": jnp.zeros(params["hidden"]["b"].shape[:1], dtype)}
    h = act(norm(x @ params["first"]["w"] + params["first"]["b"][None]) + eps["first"])

    def layer(h, inputs):
        w, b, e, i = inputs
        new = skip(h, act(norm(h @ w + b[None]) + e))
        h = jnp.where(i + 2 < depth, new, h)
        return h, h

    stack = params["hidden"]
    steps = jnp.arange(stack["w"].shape[0])
    h1 = h
    h, hs = jax.lax.scan(layer, h, (stack["w"], stack["b"], eps["hidden"], steps),
                         unroll=unroll)
    logits = h @ params["last"]["w"] + params["last"]["b"][None] + eps["last"]
    return (logits, jnp.concatenate([h1[None], hs])) if hidden else logits


@functools.cache
def loss(activation: str, residual: bool = False, normalize: bool = False,
         unroll: bool = False):
    """``loss(params, data, depth)``: mean softmax cross entropy (one object per
    architecture, so sweeps of the same architecture share a compilation)."""

    def f(params, data, depth):
        logits = forward(params, data["x"], depth, activation=activation, residual=residual,
                         normalize=normalize, unroll=unroll)
        return jnp.mean(losses.softmax_cross_entropy(logits, data["y"]))

    return f


def as_layers(params) -> list:
    """The stacked params as the list [layer 1, …, layer M] of {"w", "b"}."""
    hidden = params["hidden"]
    return ([params["first"]]
            + [{"w": hidden["w"][i], "b": hidden["b"][i]} for i in range(hidden["w"].shape[0])]
            + [params["last"]])


def from_layers(layers: list) -> dict:
    """The inverse of ``as_layers``: stack the square layers 2..M−1 again."""
    hidden = layers[1:-1]
    return {"first": layers[0], "last": layers[-1],
            "hidden": {k: jnp.stack([layer[k] for layer in hidden]) for k in ("w", "b")}}


def architecture_code(activation: str, residual: bool = False, normalize: bool = False):
    """One number for an architecture, to sweep it as a grid value (``any_loss``)."""
    return models.ACTIVATIONS.index(activation) + 4 * residual + 8 * normalize


@functools.cache
def any_loss():
    """``loss(params, data, depth, architecture)`` with the architecture a traced code
    (``architecture_code``): sweeps of different architectures with the same shapes
    compile to the same program (the persistent cache then loads it)."""

    def f(params, data, depth, architecture):
        code = jnp.asarray(architecture).astype(jnp.int32)
        logits = forward(params, data["x"], depth, activation=code % 4,
                         residual=(code // 4) % 2 == 1, normalize=code // 8 == 1)
        return jnp.mean(losses.softmax_cross_entropy(logits, data["y"]))

    return f


@functools.cache
def layers_loss(activation: str):
    """``loss(layers, data)`` of the full-depth network given as a list of layers (one
    leaf group per layer: what ``train``'s per-layer instruments need)."""

    def f(layers, data):
        return loss(activation)(from_layers(layers), data, len(layers))

    return f


def spread(params, x, depth, *, activation: str):
    """How different the examples still look at the last hidden layer: the std over
    examples of h_{L−1} (mean over units) divided by that of h_1. Near 0 the forward
    signal has collapsed: every input gives nearly the same features."""
    _, hs = forward(params, x, depth, activation=activation, hidden=True)
    std = jnp.mean(jnp.std(hs, axis=1), axis=-1)  # (M − 1,)
    last = jnp.take(std, jnp.asarray(depth, jnp.int32) - 2)
    return last / std[0]


def weights(tree) -> list:
    """[W_1, the stacked W_2..W_{M−1}, W_L] of a params (or gradient) tree."""
    return [tree["first"]["w"], tree["hidden"]["w"], tree["last"]["w"]]


def _per_layer(fn, tree):
    """fn on every weight matrix, W_1 … W_L: shape (M,)."""
    first, hidden, last = weights(tree)
    return jnp.concatenate([fn(first)[None], jax.vmap(fn)(hidden), fn(last)[None]])


def layer_norms(tree):
    """‖W_ℓ‖ (underflow-safe, ``gradients.norm``) for ℓ = 1..M."""
    return _per_layer(gradients.norm, tree)


def zero_fractions(tree):
    """Fraction of exactly-zero entries of every W_ℓ."""
    return _per_layer(lambda w: jnp.mean(w == 0), tree)


def select(values, depth: int) -> np.ndarray:
    """The ``depth`` layers of a depth-``depth`` network from per-layer values (…, M)."""
    values = np.asarray(values)
    return np.concatenate([values[..., : depth - 1], values[..., -1:]], axis=-1)


def measure(params, data, depth, *, activation, residual=False, normalize=False):
    """At one point: loss, ‖∂L/∂W_ℓ‖ and exact-zero fractions per layer, ‖δ_ℓ‖ per layer
    (z_1 … z_{M−1}, logits) and ‖W_ℓ‖."""
    n = data["x"].shape[0]
    width = params["first"]["b"].shape[0]
    eps = {"first": jnp.zeros((n, width), params["first"]["w"].dtype),
           "hidden": jnp.zeros((params["hidden"]["w"].shape[0], n, width),
                               params["first"]["w"].dtype),
           "last": jnp.zeros((n, OUT), params["first"]["w"].dtype)}

    def objective(p, e):
        logits = forward(p, data["x"], depth, activation=activation, residual=residual,
                         normalize=normalize, eps=e)
        return jnp.mean(losses.softmax_cross_entropy(logits, data["y"]))

    value, (g, d) = jax.value_and_grad(objective, argnums=(0, 1))(params, eps)
    deltas = jnp.concatenate([gradients.norm(d["first"])[None],
                              jax.vmap(gradients.norm)(d["hidden"]),
                              gradients.norm(d["last"])[None]])
    return {"loss": value, "grad_norm": layer_norms(g), "zero_fraction": zero_fractions(g),
            "delta_norm": deltas, "weight_norm": layer_norms(params)}
