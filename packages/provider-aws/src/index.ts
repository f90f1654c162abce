/**
 * @skyward/provider-aws: Skyward Provider on AWS EC2.
 * @packageDocumentation
 */
export {}
