/**
 * @skyward/provider-ssh: Skyward Provider over your own machines, reached by SSH.
 * @packageDocumentation
 */
export {}
