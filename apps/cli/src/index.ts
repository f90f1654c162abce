/**
 * @skyward/cli: the `skyward` command.
 * @packageDocumentation
 */
export { main, skyward, splitScriptArgs } from "./internal/main.js"
export { UsageError } from "./internal/errors.js"
