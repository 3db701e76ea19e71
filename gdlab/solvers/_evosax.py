"""Derivative-free methods from evosax (CMA-ES, OpenAI-ES, SimpleGA) as optax transformations.

evosax keeps its own search distribution (CMA-ES, OpenES) or population (SimpleGA);
each step asks it for a generation of P candidates, evaluates f on all of them through
``value_fn`` (P evaluations; the incoming gradient is ignored), tells it the values,
and moves the params to the new mean (distribution-based) or to the best candidate
found so far (SimpleGA, elitist). The step size is the initial search width ``sigma``
(CMA-ES adapts it; OpenES and SimpleGA keep it), so ``sigma`` is what the comparison
tunes in place of a learning rate. OpenES also takes ``learning_rate`` (its inner SGD).

Example::

    opt = evosax_strategy("cma_es", sigma=0.3, population=16, seed=0)
    gdlab.train.run(problems.get("rosenbrock").loss, x0, opt, 200)
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gdlab.solvers._counting import _needs
from gdlab.solvers._evolution import _step_key

ALGORITHMS = ("cma_es", "open_es", "simple_ga")
POPULATION = {"cma_es": 16, "open_es": 20, "simple_ga": 32}


class EvosaxState(NamedTuple):
    inner: Any
    count: jax.Array
    evaluations: jax.Array


def _algorithm(kind: str, flat, sigma, learning_rate, population: int):
    from evosax import algorithms

    if kind == "cma_es":
        es = algorithms.CMA_ES(population, flat)
        return es, es.default_params.replace(std_init=jnp.asarray(sigma, flat.dtype))
    if kind == "open_es":
        es = algorithms.Open_ES(population, flat, optimizer=optax.sgd(learning_rate),
                                std_schedule=optax.constant_schedule(sigma))
        return es, es.default_params
    es = algorithms.SimpleGA(population, flat, std_schedule=optax.constant_schedule(sigma))
    return es, es.default_params


def evosax_strategy(kind: str, sigma=0.1, population: int | None = None, seed=0,
                    learning_rate=0.05) -> optax.GradientTransformationExtraArgs:
    """evosax's ``kind`` ("cma_es", "open_es", "simple_ga") as an optax transformation.

    Costs ``population`` evaluations of f per step (defaults: CMA-ES 16, OpenES 20,
    SimpleGA 32); ``seed`` sets the noise stream, one key per step.
    """
    if kind not in ALGORITHMS:
        raise ValueError(f"unknown evosax algorithm {kind!r}; valid: {', '.join(ALGORITHMS)}")
    population = POPULATION[kind] if population is None else int(population)
    if population < 4 or (kind == "open_es" and population % 2):
        raise ValueError(f"population must be >= 4 (even for open_es), got {population}")

    def init(params):
        with jax.numpy_rank_promotion("allow"):  # evosax broadcasts implicitly
            return _init(params)

    def update(updates, state, params=None, *, value_fn=None, **extra):
        with jax.numpy_rank_promotion("allow"):
            return _update(updates, state, params, value_fn=value_fn, **extra)

    def _init(params):
        flat, _ = ravel_pytree(params)
        es, hp = _algorithm(kind, flat, sigma, learning_rate, population)
        key = _step_key(seed, 0)
        if kind == "simple_ga":
            noise = jax.random.normal(key, (population, flat.size), flat.dtype)
            first = flat[None] + jnp.asarray(sigma, flat.dtype) * noise.at[0].set(0)
            inner = es.init(key, first, jnp.full(population, jnp.inf, flat.dtype), hp)
        else:
            inner = es.init(key, flat, hp)
        return EvosaxState(inner, jnp.zeros((), jnp.int32), jnp.asarray(population, jnp.int32))

    def _update(updates, state, params=None, *, value_fn=None, **extra):
        del updates, extra
        _needs(value_fn, params, f"evosax {kind}")
        flat, unravel = ravel_pytree(params)
        es, hp = _algorithm(kind, flat, sigma, learning_rate, population)
        k_ask, k_tell = jax.random.split(_step_key(seed, state.count + 1))
        candidates, inner = es.ask(k_ask, state.inner, hp)
        fitness = jax.vmap(lambda x: value_fn(unravel(x)))(candidates)
        fitness = jnp.where(jnp.isfinite(fitness), fitness, jnp.inf).astype(flat.dtype)
        inner, _ = es.tell(k_tell, candidates, fitness, inner, hp)
        new = inner.best_solution if kind == "simple_ga" else inner.mean
        new = jnp.where(jnp.all(jnp.isfinite(new)), new.astype(flat.dtype), flat)
        return unravel(new - flat), EvosaxState(inner, state.count + 1, state.evaluations)

    return optax.GradientTransformationExtraArgs(init, update)


def cma_es(sigma=0.3, population: int | None = None, seed=0):
    """evosax CMA-ES (Hansen): adapts its covariance and step; ``sigma`` is the initial width."""
    return evosax_strategy("cma_es", sigma, population, seed)


def open_es(learning_rate=0.05, sigma=0.1, population: int | None = None, seed=0):
    """evosax OpenAI-ES (antithetic, centred ranks, inner SGD at ``learning_rate``)."""
    return evosax_strategy("open_es", sigma, population, seed, learning_rate)


def simple_ga(sigma=0.1, population: int | None = None, seed=0):
    """evosax SimpleGA (truncation selection, Gaussian mutation of width ``sigma``)."""
    return evosax_strategy("simple_ga", sigma, population, seed)
