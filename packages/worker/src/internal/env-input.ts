/**
 * The agent's flag that makes it read its environment variables from the first line of its input
 * (`python/skyward_worker/env_input.py`): their values then appear on no command line.
 */
export const ENV_ON_INPUT_FLAG = "--env-on-input"

/** The first bytes of the agent's input under {@link ENV_ON_INPUT_FLAG}: `env` as one JSON line. */
export const envInputLine = (env: Readonly<Record<string, string>>): Uint8Array =>
  // JSON escapes a newline inside a value: the line ends only at its end
  Buffer.from(`${JSON.stringify(env)}\n`, "utf8")
