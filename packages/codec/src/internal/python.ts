import { fileURLToPath } from "node:url"

/** The wire format's Python twin (`skyward_wire`): the folder of this package that holds it alone. */
export const codecModules = (): { readonly name: string; readonly path: string } => ({
  name: "skyward_wire",
  path: fileURLToPath(new URL("../../python", import.meta.url))
})
