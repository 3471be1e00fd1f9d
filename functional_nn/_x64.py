"""Float64 as a scoped context, so gradient checks never depend on a global flag."""

import jax


def float64_mode():
    """A context in which JAX creates and computes float64 arrays.

    Examples:
        >>> with float64_mode():
        ...     x = jnp.ones(3)   # float64
    """
    return jax.enable_x64(True)
