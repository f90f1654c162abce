import { DescribeImagesCommand, DescribeInstanceTypesCommand, type _InstanceType, type EC2Client, type InstanceTypeInfo } from "@aws-sdk/client-ec2"
import { GetParametersCommand, type Parameter, type SSMClient } from "@aws-sdk/client-ssm"
import { Effect } from "effect"
import { AwsSetupError, toCallError, type AwsCallError } from "./errors.js"

/** What the pool needs to know about its instance type. */
export interface InstanceTypeFacts {
  readonly instanceType: string
  /** `x86_64` or `arm64`. */
  readonly architecture: "x86_64" | "arm64"
}

/** The catalog's entry of `instanceType`; an unknown type is a setup error. */
export const instanceTypeInfo = (ec2: EC2Client, instanceType: string): Effect.Effect<InstanceTypeInfo, AwsSetupError | AwsCallError> =>
  Effect.tryPromise({
    try: () => ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as _InstanceType] })),
    catch: toCallError("DescribeInstanceTypes")
  }).pipe(
    Effect.mapError((e): AwsSetupError | AwsCallError =>
      e.code === "InvalidInstanceType" || e.code === "InvalidParameterValue"
        ? new AwsSetupError({ field: "provider.instanceType", message: `instanceType: ${instanceType} is not an instance type of this region (${e.message})` })
        : e
    ),
    Effect.flatMap((out) => {
      const info = out.InstanceTypes?.[0]
      return info === undefined
        ? Effect.fail(new AwsSetupError({ field: "provider.instanceType", message: `instanceType: ${instanceType} is not offered in this region` }))
        : Effect.succeed(info)
    })
  )

/** Looks the instance type up: its architecture (for the AMI); an unknown type is a setup error. */
export const describeInstanceType = (ec2: EC2Client, instanceType: string): Effect.Effect<InstanceTypeFacts, AwsSetupError | AwsCallError> =>
  instanceTypeInfo(ec2, instanceType).pipe(
    Effect.map((info) => {
      const archs = info.ProcessorInfo?.SupportedArchitectures ?? []
      const architecture = archs.includes("arm64") && !archs.includes("x86_64") ? "arm64" : "x86_64"
      return { instanceType, architecture } as const
    })
  )

/** The SSM parameter name for an architecture: `{arch}` becomes `amd64` or `arm64`. */
export const amiParameterName = (template: string, architecture: InstanceTypeFacts["architecture"]): string =>
  template.replaceAll("{arch}", architecture === "arm64" ? "arm64" : "amd64")

/** The oldest Ubuntu LTS `{version}` stands for. */
const OLDEST_LTS_YEAR = 20

/**
 * Ubuntu LTS releases `{version}` may stand for, newest first: `YY.04` for every even `YY` from two
 * years past `now` (a release published while this clock lags) down to 20.04. Which of them exist
 * is asked of SSM, never assumed.
 */
export const ltsCandidates = (now: Date = new Date()): string[] => {
  const newest = (now.getUTCFullYear() % 100) + 2
  const versions: string[] = []
  for (let yy = newest - (newest % 2); yy >= OLDEST_LTS_YEAR; yy -= 2) versions.push(`${String(yy).padStart(2, "0")}.04`)
  return versions
}

/** GetParameters takes at most 10 names a call. */
const GET_PARAMETERS_BATCH = 10

/** The parameters among `names` that exist (GetParameters reports the others as invalid, not as an error). */
const existingParameters = (ssm: SSMClient, names: ReadonlyArray<string>): Effect.Effect<Map<string, Parameter>, AwsCallError> =>
  Effect.forEach(
    Array.from({ length: Math.ceil(names.length / GET_PARAMETERS_BATCH) }, (_, i) => names.slice(i * GET_PARAMETERS_BATCH, (i + 1) * GET_PARAMETERS_BATCH)),
    (batch) => Effect.tryPromise({ try: () => ssm.send(new GetParametersCommand({ Names: batch })), catch: toCallError("GetParameters") })
  ).pipe(Effect.map((outs) => new Map(outs.flatMap((out) => out.Parameters ?? []).map((p) => [p.Name!, p] as const))))

/**
 * The AMI to launch: `ami` when given (checked to exist), else the value of the SSM parameter
 * `parameterTemplate` for the instance type's architecture (`{arch}`). A `{version}` in the
 * template is the newest Ubuntu LTS (`YY.04`, even `YY`, see `ltsCandidates`) whose parameter
 * exists in the region: the default template so finds the latest Ubuntu LTS for the architecture.
 */
export const resolveAmi = (
  clients: { readonly ec2: EC2Client; readonly ssm: SSMClient },
  ami: string | undefined,
  parameterTemplate: string,
  facts: InstanceTypeFacts,
  now: Date = new Date()
): Effect.Effect<string, AwsSetupError | AwsCallError> =>
  Effect.gen(function* () {
    if (ami !== undefined) {
      const images = yield* Effect.tryPromise({
        try: () => clients.ec2.send(new DescribeImagesCommand({ ImageIds: [ami] })),
        catch: toCallError("DescribeImages")
      }).pipe(
        Effect.catchIf((e) => e.code.startsWith("InvalidAMIID"), () => Effect.succeed({ Images: [] }))
      )
      const image = images.Images?.[0]
      if (image === undefined) return yield* new AwsSetupError({ field: "provider.ami", message: `ami: ${ami} does not exist in this region` })
      if (image.Architecture !== undefined && image.Architecture !== facts.architecture)
        return yield* new AwsSetupError({
          field: "provider.ami",
          message: `ami: ${ami} is for ${image.Architecture}, but ${facts.instanceType} is ${facts.architecture}`
        })
      return ami
    }
    const template = amiParameterName(parameterTemplate, facts.architecture)
    const versioned = template.includes("{version}")
    const versions = versioned ? ltsCandidates(now) : []
    const names = versioned ? versions.map((version) => template.replaceAll("{version}", version)) : [template]
    const found = yield* existingParameters(clients.ssm, names)
    const name = names.find((n) => found.has(n))
    if (name === undefined)
      return yield* new AwsSetupError({
        field: "provider.ami",
        message: versioned
          ? `no AMI: no Ubuntu LTS (${versions.join(", ")}) has the SSM parameter ${template} for ${facts.architecture} in this region; pass ami: "ami-..." or amiParameter`
          : `no AMI: the SSM parameter ${template} does not exist in this region; pass ami: "ami-..."`
      })
    const value = found.get(name)!.Value
    if (!value?.startsWith("ami-"))
      return yield* new AwsSetupError({ field: "provider.ami", message: `no AMI: the SSM parameter ${name} holds ${JSON.stringify(value)}, not an AMI id` })
    return value
  })
