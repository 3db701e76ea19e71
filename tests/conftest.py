"""Strict JAX for every test: float64 on, implicit rank promotion is an error.

float64 is on so closed-form checks can be exact; tests of float32 behaviour pass
float32 arrays explicitly (dtypes follow the inputs everywhere in gdlab).
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
