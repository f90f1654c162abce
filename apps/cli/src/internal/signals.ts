import os from "node:os"

/** The exit code of a process ended by `signal`, as shells report it: 128 + the signal's number. */
export const signalExitCode = (signal: NodeJS.Signals): number => 128 + os.constants.signals[signal]
