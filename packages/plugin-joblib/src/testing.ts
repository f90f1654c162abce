/**
 * @skyward/plugin-joblib/testing: seams for other packages' tests (not part of the public API;
 * may change in any release).
 * @packageDocumentation
 */

/** The module the client process imports before the user's script (what `pool.client.imports` holds). */
export { ACTIVATE_MODULE } from "./internal/plugin.js"
