import { DescribeImagesCommand, DescribeInstanceTypesCommand, type _InstanceType, type EC2Client } from "@aws-sdk/client-ec2"
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm"
import { Effect } from "effect"
import { AwsSetupError, toCallError, type AwsCallError } from "./errors.js"

/** What the pool needs to know about its instance type. */
export interface InstanceTypeFacts {
  readonly instanceType: string
  /** `x86_64` or `arm64`. */
  readonly architecture: "x86_64" | "arm64"
  readonly vcpus: number
}

/** Looks the instance type up: its architecture (for the AMI) and vCPUs (default slots). */
export const describeInstanceType = (ec2: EC2Client, instanceType: string): Effect.Effect<InstanceTypeFacts, AwsSetupError | AwsCallError> =>
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
      if (info === undefined)
        return Effect.fail(new AwsSetupError({ field: "provider.instanceType", message: `instanceType: ${instanceType} is not offered in this region` }))
      const archs = info.ProcessorInfo?.SupportedArchitectures ?? []
      const architecture = archs.includes("arm64") && !archs.includes("x86_64") ? "arm64" : "x86_64"
      return Effect.succeed({ instanceType, architecture, vcpus: info.VCpuInfo?.DefaultVCpus ?? 1 } as const)
    })
  )

/** The SSM parameter name for an architecture: `{arch}` becomes `amd64` or `arm64`. */
export const amiParameterName = (template: string, architecture: InstanceTypeFacts["architecture"]): string =>
  template.replaceAll("{arch}", architecture === "arm64" ? "arm64" : "amd64")

/**
 * The AMI to launch: `ami` when given (checked to exist), else the value of the public SSM
 * parameter for the instance type's architecture (latest Ubuntu LTS by default).
 */
export const resolveAmi = (
  clients: { readonly ec2: EC2Client; readonly ssm: SSMClient },
  ami: string | undefined,
  parameterTemplate: string,
  facts: InstanceTypeFacts
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
    const name = amiParameterName(parameterTemplate, facts.architecture)
    const parameter = yield* Effect.tryPromise({
      try: () => clients.ssm.send(new GetParameterCommand({ Name: name })),
      catch: toCallError("GetParameter")
    }).pipe(
      Effect.mapError((e): AwsSetupError | AwsCallError =>
        e.code === "ParameterNotFound"
          ? new AwsSetupError({ field: "provider.ami", message: `no AMI: the SSM parameter ${name} does not exist in this region; pass ami: "ami-..."` })
          : e
      )
    )
    const value = parameter.Parameter?.Value
    if (!value?.startsWith("ami-"))
      return yield* new AwsSetupError({ field: "provider.ami", message: `no AMI: the SSM parameter ${name} holds ${JSON.stringify(value)}, not an AMI id` })
    return value
  })
