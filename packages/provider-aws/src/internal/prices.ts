import { DescribeSpotPriceHistoryCommand, type _InstanceType, type EC2Client, type SpotPrice } from "@aws-sdk/client-ec2"
import type { NodePrice } from "@skyward/contracts"
import { Effect } from "effect"
import { ON_DEMAND_PRICES, ON_DEMAND_PRICES_AS_OF } from "./on-demand-prices.js"

/** What an instance's price depends on. */
export interface PricedInstance {
  readonly region: string
  readonly instanceType: string
  readonly lifecycle: "spot" | "on-demand"
  readonly availabilityZone: string | undefined
}

/** The on-demand price of `instanceType` in `region`: the user's figure first, then the package's table. */
export const onDemandPrice = (
  region: string,
  instanceType: string,
  overrides: Readonly<Record<string, number>> | undefined
): NodePrice | undefined => {
  const given = overrides?.[instanceType]
  if (given !== undefined) return { usdPerHour: given, source: "onDemandPrices option" }
  const listed = ON_DEMAND_PRICES[region]?.[instanceType]
  return listed === undefined ? undefined : { usdPerHour: listed, source: `on-demand price list of ${ON_DEMAND_PRICES_AS_OF}` }
}

/** The current spot offers for Linux instances of `types`, every zone of the region (zero prices left out). */
const spotOffers = (ec2: EC2Client, types: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const offers: SpotPrice[] = []
    let token: string | undefined
    do {
      const out = yield* Effect.tryPromise(() =>
        ec2.send(
          new DescribeSpotPriceHistoryCommand({
            InstanceTypes: types as _InstanceType[],
            ProductDescriptions: ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
            StartTime: new Date(),
            ...(token === undefined ? {} : { NextToken: token })
          })
        )
      )
      offers.push(...(out.SpotPriceHistory ?? []).filter((o) => Number(o.SpotPrice) > 0))
      token = out.NextToken
    } while (token)
    return offers
  })

/** The current spot price of a Linux `instanceType` in `zone` (the region's lowest when the zone has none). */
const spotPrice = (ec2: EC2Client, instanceType: string, zone: string | undefined): Effect.Effect<NodePrice | undefined> =>
  spotOffers(ec2, [instanceType]).pipe(
    Effect.map((all) => {
      const offers = all.filter((o) => o.InstanceType === instanceType)
      const inZone = offers.filter((o) => o.AvailabilityZone === zone)
      const prices = (inZone.length > 0 ? inZone : offers).map((o) => Number(o.SpotPrice))
      if (prices.length === 0) return undefined
      return { usdPerHour: Math.min(...prices), source: `spot price in ${inZone.length > 0 ? zone : "the region"} at launch` }
    }),
    // a price is for showing: a refused or failed lookup leaves it unknown, never fails the pool
    Effect.orElseSucceed(() => undefined)
  )

/** The lowest current spot price of each of `types` in the region (types without one are left out). */
export const spotPrices = (ec2: EC2Client, types: ReadonlyArray<string>): Effect.Effect<Map<string, NodePrice>> =>
  spotOffers(ec2, types).pipe(
    Effect.map((offers) => {
      const lowest = new Map<string, NodePrice>()
      for (const o of offers) {
        const usd = Number(o.SpotPrice)
        const known = lowest.get(o.InstanceType!)
        if (known === undefined || usd < known.usdPerHour) lowest.set(o.InstanceType!, { usdPerHour: usd, source: `spot price in ${o.AvailabilityZone} now` })
      }
      return lowest
    }),
    Effect.orElseSucceed(() => new Map<string, NodePrice>())
  )

/**
 * The hourly price of each instance (in order), looked up once per distinct type, lifecycle and
 * zone; undefined where none is known.
 */
export const instancePrices = (
  ec2: EC2Client,
  instances: ReadonlyArray<PricedInstance>,
  overrides: Readonly<Record<string, number>> | undefined
): Effect.Effect<ReadonlyArray<NodePrice | undefined>> => {
  const keyOf = (i: PricedInstance) => `${i.instanceType} ${i.lifecycle} ${i.lifecycle === "spot" ? (i.availabilityZone ?? "") : ""}`
  const distinct = new Map(instances.map((i) => [keyOf(i), i]))
  return Effect.forEach([...distinct], ([key, i]) =>
    (i.lifecycle === "spot" ? spotPrice(ec2, i.instanceType, i.availabilityZone) : Effect.succeed(onDemandPrice(i.region, i.instanceType, overrides))).pipe(
      Effect.map((price) => [key, price] as const)
    )
  ).pipe(
    Effect.map((found) => {
      const byKey = new Map(found)
      return instances.map((i) => byKey.get(keyOf(i)))
    })
  )
}
