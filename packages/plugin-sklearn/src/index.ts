/**
 * @skyward/plugin-sklearn: Skyward plugin: scikit-learn's n_jobs=-1 on every slot of the pool.
 * @packageDocumentation
 */
export {}
