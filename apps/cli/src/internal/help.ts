/** What `hasColors` needs to know about the output (a `tty.WriteStream` has it; a pipe does not). */
export interface HelpOutput {
  readonly isTTY?: boolean
  readonly hasColors?: (env?: NodeJS.ProcessEnv) => boolean
}

/**
 * Whether help may carry ANSI colours: only on a terminal that supports them, as Node judges it
 * (`NO_COLOR`, `NODE_DISABLE_COLORS`, `TERM=dumb` turn them off); `FORCE_COLOR=1` turns them on
 * even for a pipe, `FORCE_COLOR=0` off everywhere.
 */
export const helpInColor = (output: HelpOutput, env: NodeJS.ProcessEnv = process.env): boolean => {
  if (output.isTTY === true && typeof output.hasColors === "function") return output.hasColors(env)
  const force = env.FORCE_COLOR
  return force !== undefined && !["0", "false"].includes(force.toLowerCase())
}
