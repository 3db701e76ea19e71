"""Gradient-free: an antithetic evolution strategy and a genetic algorithm (value_fn only)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gdlab.solvers._counting import _needs


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
        plus, minus = f(flat[None] + sigma * eps), f(flat[None] - sigma * eps)
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
        return GeneticState(flat[None] + mutation_scale * noise, jnp.zeros((), jnp.int32),
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
