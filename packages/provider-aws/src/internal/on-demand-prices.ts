/**
 * EC2 on-demand prices kept with the package: USD per hour, Linux, shared tenancy, from AWS's
 * public price list on `ON_DEMAND_PRICES_AS_OF`. EC2 has no API for on-demand prices short of the
 * Price List service; a type or region missing here has no price unless the `onDemandPrices`
 * option gives one.
 */

/** The day the table was read from AWS's price list. */
export const ON_DEMAND_PRICES_AS_OF = "2026-11-30"

// us-east-1, us-east-2 and us-west-2 price these families alike
const US: Readonly<Record<string, number>> = {
  "t3.micro": 0.0104,
  "t3.small": 0.0208,
  "t3.medium": 0.0416,
  "t3.large": 0.0832,
  "t3.xlarge": 0.1664,
  "t3.2xlarge": 0.3328,
  "c5.large": 0.085,
  "c5.xlarge": 0.17,
  "c5.2xlarge": 0.34,
  "c5.4xlarge": 0.68,
  "c6i.large": 0.085,
  "c6i.xlarge": 0.17,
  "c6i.2xlarge": 0.34,
  "c6i.4xlarge": 0.68,
  "c6i.8xlarge": 1.36,
  "c7i.large": 0.08925,
  "c7i.xlarge": 0.1785,
  "c7i.2xlarge": 0.357,
  "c7i.4xlarge": 0.714,
  "c7g.large": 0.0725,
  "c7g.xlarge": 0.145,
  "c7g.2xlarge": 0.29,
  "m5.large": 0.096,
  "m5.xlarge": 0.192,
  "m5.2xlarge": 0.384,
  "m5.4xlarge": 0.768,
  "m6i.large": 0.096,
  "m6i.xlarge": 0.192,
  "m6i.2xlarge": 0.384,
  "m6i.4xlarge": 0.768,
  "m7i.large": 0.1008,
  "m7i.xlarge": 0.2016,
  "m7i.2xlarge": 0.4032,
  "m7g.large": 0.0816,
  "m7g.xlarge": 0.1632,
  "r5.large": 0.126,
  "r5.xlarge": 0.252,
  "r5.2xlarge": 0.504,
  "r6i.large": 0.126,
  "r6i.xlarge": 0.252,
  "r6i.2xlarge": 0.504,
  "g4dn.xlarge": 0.526,
  "g5.xlarge": 1.006
}

const EU_WEST_1: Readonly<Record<string, number>> = {
  "t3.micro": 0.0114,
  "t3.small": 0.0228,
  "t3.medium": 0.0456,
  "t3.large": 0.0912,
  "c5.large": 0.096,
  "c5.xlarge": 0.192,
  "c6i.large": 0.096,
  "c6i.xlarge": 0.192,
  "c6i.2xlarge": 0.384,
  "m5.large": 0.107,
  "m5.xlarge": 0.214,
  "m6i.large": 0.107,
  "m6i.xlarge": 0.214,
  "r5.large": 0.141,
  "r6i.large": 0.141
}

/** USD per hour by region, then instance type. */
export const ON_DEMAND_PRICES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  "us-east-1": US,
  "us-east-2": US,
  "us-west-2": US,
  "eu-west-1": EU_WEST_1
}
