import type { Tag, TagSpecification, ResourceType } from "@aws-sdk/client-ec2"
import { MANAGED_TAG, POOL_TAG } from "./options.js"

/** The tags of everything a pool creates: `skyward:pool=<id>`, `skyward:managed=true`, extras. */
export const poolTags = (poolId: string, extra: Readonly<Record<string, string>> = {}, name?: string): Tag[] => [
  { Key: POOL_TAG, Value: poolId },
  { Key: MANAGED_TAG, Value: "true" },
  ...(name === undefined ? [] : [{ Key: "Name", Value: name }]),
  ...Object.entries(extra).map(([Key, Value]) => ({ Key, Value }))
]

/** A TagSpecifications entry for a resource type. */
export const tagSpec = (type: ResourceType, tags: Tag[]): TagSpecification => ({ ResourceType: type, Tags: tags })

/** The value of a tag in a list. */
export const tagValue = (tags: ReadonlyArray<Tag> | undefined, key: string): string | undefined => tags?.find((t) => t.Key === key)?.Value
