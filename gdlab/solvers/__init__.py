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
    cma_es, open_es, simple_ga
                   evosax's CMA-ES, OpenAI-ES and SimpleGA (``evosax_strategy``): each step
                   asks evosax for a population, evaluates f on it, moves to the new mean
                   (or the best individual); σ is the step
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

from gdlab.solvers._cg import (
    CG_VARIANTS,
    ConjugateGradientState,
    cg_fr,
    cg_pr,
    conjugate_gradient,
    lbfgs,
    scale_by_conjugate_gradient,
)
from gdlab.solvers._counting import (
    Counted,
    CountingState,
    EvaluationCost,
    count_evaluations,
    counted,
    step_evaluations,
    with_count,
)
from gdlab.solvers._evolution import (
    EvolutionStrategyState,
    GeneticState,
    centered_ranks,
    evolution_strategy,
    genetic_algorithm,
    scale_by_evolution_strategy,
)
from gdlab.solvers._evosax import ALGORITHMS as EVOSAX
from gdlab.solvers._evosax import cma_es, evosax_strategy, open_es, simple_ga
from gdlab.solvers._newton import newton, scale_by_newton

__all__ = [
    "CG_VARIANTS",
    "EVOSAX",
    "ConjugateGradientState",
    "Counted",
    "CountingState",
    "EvaluationCost",
    "EvolutionStrategyState",
    "GeneticState",
    "centered_ranks",
    "cma_es",
    "cg_fr",
    "cg_pr",
    "conjugate_gradient",
    "count_evaluations",
    "counted",
    "evolution_strategy",
    "evosax_strategy",
    "genetic_algorithm",
    "lbfgs",
    "newton",
    "open_es",
    "scale_by_conjugate_gradient",
    "scale_by_evolution_strategy",
    "scale_by_newton",
    "simple_ga",
    "step_evaluations",
    "with_count",
]
