"""Beyond plain descent, as optax transformations: conjugate gradients, evolution, Newton.

Every solver here is an ``optax.GradientTransformationExtraArgs`` and runs through the
same loop as Adam (``gdlab.train.run`` passes ``value=``, ``grad=`` and ``value_fn=``
to every update). Direction and step stay separate, as in optax: each solver is a
``scale_by_*`` direction followed by ``optax.scale_by_learning_rate`` (the one minus
sign), and a line search where it has one::

    cg_pr, cg_fr   nonlinear conjugate gradients with optax's zoom (strong Wolfe) search
                   d_k = −g_k + β_k d_{k−1},  β_FR = ‖g_k‖² / ‖g_{k−1}‖²,
                   β_PR+ = max(0, g_kᵀ(g_k − g_{k−1}) / ‖g_{k−1}‖²)
    es             antithetic Gaussian evolution strategy (OpenAI-ES): no gradient,
                   ĝ = 1/(2σm) Σ_i [F(θ + σε_i) − F(θ − σε_i)] ε_i,  u = −η ĝ
    ga             a genetic algorithm: truncation selection, uniform crossover,
                   Gaussian mutation, elitism; params jump to the generation's best
    newton         u = −η H⁻¹ g with H = jax.hessian (small problems only)
    lbfgs          ``optax.lbfgs`` with sweepable defaults

Randomness (ES, GA) is pure: each step's key is ``fold_in(key(seed), step)``, with
``seed`` a hyperparameter and the step count in the state.

Counting the work honestly. Steps are not comparable across methods: a line search
evaluates f several times per step, an ES step costs its whole population. Every
state here records what its last step spent, and ``step_evaluations`` reads it from
any optimizer's state; one *evaluation* is one call of f or of (f, ∇f):

    gradient methods (sgd, adam, ...)   1 per step: (f, ∇f) at w_k
    zoom line search (lbfgs, cg_*)      its trials, each (f, ∇f); the accepted trial's
                                        gradient is the next step's, so +1 only at w_0
    backtracking line search            its trials (f only) + 1 gradient
    es / ga                             the population (f only)
    newton                              1 + n: ∇f and a Hessian of n gradient-sized passes

This counts what the algorithm needs, not the lab's measurement overhead
(``train.run`` evaluates f and ∇f at every iterate to record them). Because
``train.run`` returns parameters and not states, ``count_evaluations`` carries the
running total as a parameter leaf that no loss reads::

    traj = train.run(counted(f), with_count(x0), count_evaluations(opt), 100)
    traj.params.evaluations        # cumulative evaluations after k steps, k = 0..100
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

# --------------------------------------------------------------------------- counting


class Counted(NamedTuple):
    """Parameters with a running count of evaluations riding along (no loss reads it)."""

    params: Any
    evaluations: jax.Array


def with_count(params) -> Counted:
    """``Counted(params, 0)``, the count in the params' float dtype."""
    dtype = jnp.result_type(*jax.tree.leaves(params))
    return Counted(params, jnp.zeros((), dtype))


def counted(loss_fn: Callable) -> Callable:
    """``loss_fn`` on ``Counted`` parameters: ``counted(f)(Counted(p, n), ...) = f(p, ...)``."""

    def loss(params: Counted, *args, **kwargs):
        return loss_fn(params.params, *args, **kwargs)

    return loss


class CountingState(NamedTuple):
    inner: Any
    count: jax.Array  # steps taken


def _has_evaluations(node) -> bool:
    return isinstance(node, tuple) and "evaluations" in getattr(node, "_fields", ())


_LINESEARCH = (optax.ScaleByZoomLinesearchState, optax.ScaleByBacktrackingLinesearchState)


def step_evaluations(state, *, first_step=False) -> jax.Array:
    """Evaluations of f or (f, ∇f) spent by the step that produced ``state``.

    Reads any optax state: gdlab solver states carry ``evaluations``; optax's zoom
    line search reports its trials (each (f, ∇f); +1 on the first step for ∇f(w₀));
    a backtracking search its trials (f only) + 1 gradient; anything else counts 1.
    """
    nodes = jax.tree.leaves(state, is_leaf=lambda n: _has_evaluations(n)
                            or isinstance(n, _LINESEARCH))
    total, known = jnp.zeros((), jnp.int32), False
    for node in nodes:
        if isinstance(node, optax.ScaleByZoomLinesearchState):
            trials = jnp.asarray(node.info.num_linesearch_steps, jnp.int32)
            total, known = total + trials + jnp.asarray(first_step, jnp.int32), True
        elif isinstance(node, optax.ScaleByBacktrackingLinesearchState):
            trials = jnp.asarray(node.info.num_linesearch_steps, jnp.int32)
            total, known = total + trials + 1, True
        elif _has_evaluations(node):
            total, known = total + jnp.asarray(node.evaluations, jnp.int32), True
    return total if known else jnp.ones((), jnp.int32)


def count_evaluations(optimizer) -> optax.GradientTransformationExtraArgs:
    """Wrap ``optimizer`` to act on ``Counted`` params, adding each step's evaluations.

    The inner optimizer sees only ``params.params``; the update of the count leaf is
    ``step_evaluations`` of the new inner state, so after k steps
    ``params.evaluations`` is the total spent (see the module docstring).
    """
    inner = optax.with_extra_args_support(optimizer)

    def init(params: Counted):
        return CountingState(inner.init(params.params), jnp.zeros((), jnp.int32))

    def update(updates: Counted, state: CountingState, params: Counted | None = None, **extra):
        if params is None:
            raise ValueError("count_evaluations needs params (gdlab.train.run passes them)")
        if isinstance(extra.get("grad"), Counted):
            extra["grad"] = extra["grad"].params
        if extra.get("value_fn") is not None:
            value_fn, count = extra["value_fn"], params.evaluations
            extra["value_fn"] = lambda p: value_fn(Counted(p, count))
        u, new_inner = inner.update(updates.params, state.inner, params.params, **extra)
        spent = step_evaluations(new_inner, first_step=state.count == 0)
        return (Counted(u, spent.astype(params.evaluations.dtype)),
                CountingState(new_inner, state.count + 1))

    return optax.GradientTransformationExtraArgs(init, update)


class EvaluationCost(NamedTuple):
    """State of a stateless solver whose step costs a fixed number of evaluations."""

    evaluations: jax.Array


def _needs(value_fn, params, name):
    if value_fn is None or params is None:
        raise ValueError(f"{name} needs params and value_fn (gdlab.train.run passes both)")


# --------------------------------------------------------------------------- conjugate gradients

CG_VARIANTS = ("pr+", "fr")


class ConjugateGradientState(NamedTuple):
    """Previous gradient g_{k−1} and direction p_{k−1} (ascent form, p = −d)."""

    grad: Any
    direction: Any
    count: jax.Array


def scale_by_conjugate_gradient(variant: str = "pr+") -> optax.GradientTransformation:
    """The conjugate direction p_k = g_k + β_k p_{k−1} (descent is d_k = −p_k).

        Fletcher–Reeves  β = ‖g_k‖² / ‖g_{k−1}‖²
        Polak–Ribière+   β = max(0, g_kᵀ(g_k − g_{k−1}) / ‖g_{k−1}‖²)

    β = 0 on the first step, and the direction restarts at g_k whenever p_kᵀg_k ≤ 0
    (not a descent direction). On a quadratic with exact line searches both are
    linear CG and finish in n steps.
    """
    if variant not in CG_VARIANTS:
        raise ValueError(f"unknown CG variant {variant!r}; valid: {', '.join(CG_VARIANTS)}")

    def init(params):
        zeros = optax.tree.zeros_like(params)
        return ConjugateGradientState(zeros, zeros, jnp.zeros((), jnp.int32))

    def update(grad, state, params=None):
        del params
        previous = optax.tree.vdot(state.grad, state.grad)
        if variant == "fr":
            top = optax.tree.vdot(grad, grad)
        else:
            top = optax.tree.vdot(grad, optax.tree.sub(grad, state.grad))
        beta = top / jnp.where(previous > 0, previous, 1)
        beta = jnp.where((state.count == 0) | (previous <= 0), 0, beta)
        if variant == "pr+":
            beta = jnp.maximum(beta, 0)
        direction = optax.tree.add_scale(grad, beta, state.direction)
        descent = optax.tree.vdot(direction, grad) > 0
        direction = jax.tree.map(lambda p, g: jnp.where(descent, p, g), direction, grad)
        return direction, ConjugateGradientState(grad, direction, state.count + 1)

    return optax.GradientTransformation(init, update)


def conjugate_gradient(
    learning_rate=1.0, *, variant: str = "pr+", max_linesearch_steps: int = 30,
    curv_rtol: float = 0.1,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear conjugate gradients with optax's zoom line search (strong Wolfe).

    u_k = α_k d_k, with d_k from ``scale_by_conjugate_gradient`` and α_k found by
    ``optax.scale_by_zoom_linesearch`` starting from the previous step size (η on the
    first step). ``curv_rtol`` is Wolfe's c₂: below ½ as Fletcher–Reeves needs
    (Nocedal & Wright, Numerical Optimization, ch. 5).

    Example::

        opt = conjugate_gradient(variant="fr")
        train.run(problems.get("rosenbrock").loss, x0, opt, 100)
    """
    return optax.chain(
        scale_by_conjugate_gradient(variant),
        optax.scale_by_learning_rate(learning_rate),
        optax.scale_by_zoom_linesearch(
            max_linesearch_steps, curv_rtol=curv_rtol, initial_guess_strategy="keep"
        ),
    )


def cg_pr(learning_rate=1.0) -> optax.GradientTransformationExtraArgs:
    """Polak–Ribière+ conjugate gradients with a zoom line search (see ``conjugate_gradient``)."""
    return conjugate_gradient(learning_rate, variant="pr+")


def cg_fr(learning_rate=1.0) -> optax.GradientTransformationExtraArgs:
    """Fletcher–Reeves conjugate gradients with a zoom line search (see ``conjugate_gradient``)."""
    return conjugate_gradient(learning_rate, variant="fr")


def lbfgs(learning_rate=None, memory_size: int | None = None) -> optax.GradientTransformation:
    """``optax.lbfgs`` (zoom line search, memory 10), with defaults a sweep can trace.

    ``memory_size`` is a shape, so it defaults to None (meaning 10) rather than an int:
    ``optax.inject_hyperparams`` would turn an int default into a traced value.
    """
    return optax.lbfgs(learning_rate, memory_size=10 if memory_size is None else memory_size)


# --------------------------------------------------------------------------- evolution


def _step_key(seed, count):
    """fold_in(key(seed), count); a float seed (sweeps pass grid values as floats) is cast."""
    seed = jnp.asarray(seed)
    if not jnp.issubdtype(seed.dtype, jnp.integer):
        seed = seed.astype(jnp.int32)
    return jax.random.fold_in(jax.random.key(seed), count)


def centered_ranks(values: jax.Array) -> jax.Array:
    """Fitness shaping: ranks mapped linearly onto [−½, ½] (lowest value → −½).

    NaN counts as the worst value. Example: ``centered_ranks([3., 1., 2.])`` = [½, −½, 0].
    """
    values = jnp.where(jnp.isnan(values), jnp.inf, values)
    ranks = jnp.argsort(jnp.argsort(values)).astype(values.dtype)
    return ranks / (values.size - 1) - 0.5


class EvolutionStrategyState(NamedTuple):
    count: jax.Array
    evaluations: jax.Array


def scale_by_evolution_strategy(
    sigma=0.1, population: int | None = None, seed=0, rank_shaping: bool = True
) -> optax.GradientTransformationExtraArgs:
    """Replace the gradient by an antithetic ES estimate (Salimans et al. 2017).

    With m = population/2 pairs ε_i ~ N(0, I) and F the (shaped) loss values,

        ĝ = 1/(2σm) Σ_i [F(θ + σε_i) − F(θ − σε_i)] ε_i.

    Without shaping (F = f) this is an unbiased estimate of ∇ E[f(θ + σε)], exactly
    ∇f on a quadratic; with ``rank_shaping`` F is ``centered_ranks`` of all 2m values,
    which ignores the loss's scale and outliers. Costs ``population`` evaluations of
    f per step (default 20); the incoming gradient is ignored.
    """
    population = 20 if population is None else population
    if population < 2 or population % 2:
        raise ValueError(f"population must be an even integer >= 2, got {population}")
    pairs = population // 2

    def init(params):
        del params
        return EvolutionStrategyState(jnp.zeros((), jnp.int32), jnp.asarray(population, jnp.int32))

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del updates, extra
        _needs(value_fn, params, "an evolution strategy")
        flat, unravel = ravel_pytree(params)
        eps = jax.random.normal(_step_key(seed, state.count), (pairs, flat.size), flat.dtype)
        f = jax.vmap(lambda x: value_fn(unravel(x)))
        plus, minus = f(flat + sigma * eps), f(flat - sigma * eps)
        if rank_shaping:
            shaped = centered_ranks(jnp.concatenate([plus, minus]))
            plus, minus = shaped[:pairs], shaped[pairs:]
        g = ((plus - minus).astype(flat.dtype) @ eps) / (2 * sigma * pairs)
        return unravel(g), state._replace(count=state.count + 1)

    return optax.GradientTransformationExtraArgs(init, update)


def evolution_strategy(
    learning_rate, sigma=0.1, population: int | None = None, seed=0, rank_shaping: bool = True
) -> optax.GradientTransformationExtraArgs:
    """OpenAI-style ES: u = −η ĝ with ĝ from ``scale_by_evolution_strategy``.

    Example::

        opt = evolution_strategy(0.05, sigma=0.1, population=20, seed=0)
        train.run(problems.get("rosenbrock").loss, x0, opt, 500)
    """
    return optax.chain(
        scale_by_evolution_strategy(sigma, population, seed, rank_shaping),
        optax.scale_by_learning_rate(learning_rate),
    )


class GeneticState(NamedTuple):
    population: jax.Array  # (P, n) flattened individuals
    count: jax.Array
    evaluations: jax.Array


def genetic_algorithm(
    mutation_scale=0.1, population: int | None = None, elite: int | None = None, seed=0
) -> optax.GradientTransformationExtraArgs:
    """A real-valued genetic algorithm; the params jump to each generation's best.

    Generation k (P individuals, the first one the current params):
      1. evaluate every individual (P evaluations; re-evaluating survivors keeps it
         honest on noisy losses);
      2. keep the ``elite`` best unchanged (elitism: the best loss never increases);
      3. breed P − elite children from the best half: uniform crossover of two
         random parents, plus mutation ``mutation_scale · N(0, I)``;
      4. the update moves params to the best individual: u = x_best − θ.

    Defaults: P = 32, elite = P/8. ``mutation_scale`` plays the learning rate's part
    (it sets the step length); the initial population is θ + mutation_scale · N(0, I).
    """
    population = 32 if population is None else population
    elite = max(1, population // 8) if elite is None else elite
    if population < 4 or not 1 <= elite < population:
        raise ValueError(f"need population >= 4 and 1 <= elite < population, got "
                         f"{population} and {elite}")
    parents, children = max(2, population // 2), population - elite

    def init(params):
        flat, _ = ravel_pytree(params)
        noise = jax.random.normal(_step_key(seed, 0), (population, flat.size), flat.dtype)
        noise = noise.at[0].set(0)
        return GeneticState(flat + mutation_scale * noise, jnp.zeros((), jnp.int32),
                            jnp.asarray(population, jnp.int32))

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del updates, extra
        _needs(value_fn, params, "a genetic algorithm")
        flat, unravel = ravel_pytree(params)
        fitness = jax.vmap(lambda x: value_fn(unravel(x)))(state.population)
        order = jnp.argsort(jnp.where(jnp.isnan(fitness), jnp.inf, fitness))
        ranked = state.population[order]
        k_a, k_b, k_mask, k_mut = jax.random.split(_step_key(seed, state.count + 1), 4)
        mom = ranked[jax.random.randint(k_a, (children,), 0, parents)]
        dad = ranked[jax.random.randint(k_b, (children,), 0, parents)]
        mix = jax.random.bernoulli(k_mask, 0.5, mom.shape)
        mutation = jax.random.normal(k_mut, mom.shape, flat.dtype)
        kids = jnp.where(mix, mom, dad) + mutation_scale * mutation
        new_population = jnp.concatenate([ranked[:elite], kids])
        new_state = GeneticState(new_population, state.count + 1, state.evaluations)
        return unravel(ranked[0] - flat), new_state

    return optax.GradientTransformationExtraArgs(init, update)


# --------------------------------------------------------------------------- newton


def scale_by_newton(
    damping=0.0, saddle_free: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Replace g by the Newton direction (H + δI)⁻¹ g, with H = jax.hessian(f)(θ).

    With ``saddle_free`` the eigenvalues of H are replaced by |λ| + δ (Dauphin et al.
    2014), so the step always descends; plain Newton heads for the nearest stationary
    point, minimum, saddle or maximum alike. Dense: O(n²) memory, O(n³) time, and
    1 + n evaluations per step (a Hessian is n gradient-sized passes).
    """

    def init(params):
        n = ravel_pytree(params)[0].size
        return EvaluationCost(jnp.asarray(1 + n, jnp.int32))

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del extra
        _needs(value_fn, params, "Newton's method")
        flat, unravel = ravel_pytree(params)
        g = ravel_pytree(updates)[0]
        h = jax.hessian(lambda x: value_fn(unravel(x)))(flat)
        if saddle_free:
            lam, q = jnp.linalg.eigh(h)
            step = q @ ((q.T @ g) / (jnp.abs(lam) + damping))
        else:
            step = jnp.linalg.solve(h + damping * jnp.eye(flat.size, dtype=h.dtype), g)
        return unravel(step.astype(flat.dtype)), state

    return optax.GradientTransformationExtraArgs(init, update)


def newton(learning_rate=1.0, damping=0.0, saddle_free: bool = False):
    """Newton's method u = −η (H + δI)⁻¹ g (η = 1: the pure Newton step).

    One step solves a quadratic exactly; near a minimum with H ≻ 0 convergence is
    quadratic. For small problems (dense Hessian); see ``scale_by_newton``.
    """
    return optax.chain(
        scale_by_newton(damping, saddle_free), optax.scale_by_learning_rate(learning_rate)
    )


__all__ = [
    "CG_VARIANTS",
    "Counted",
    "centered_ranks",
    "cg_fr",
    "cg_pr",
    "conjugate_gradient",
    "count_evaluations",
    "counted",
    "evolution_strategy",
    "genetic_algorithm",
    "lbfgs",
    "newton",
    "scale_by_conjugate_gradient",
    "scale_by_evolution_strategy",
    "scale_by_newton",
    "step_evaluations",
    "with_count",
]
