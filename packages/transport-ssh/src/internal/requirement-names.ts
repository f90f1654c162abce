/** `name[extras]` of a pip requirement: what comes before its version, URL or marker. */
export const requirementName = (requirement: string): string => /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?/.exec(requirement.trim())?.[0] ?? requirement.trim()
