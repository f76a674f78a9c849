/** The backend section: where the workflows reach the stacks' state. */
import { z } from "zod";

/**
 * A self-managed backend in S3, which the workflows reach through GitHub's OIDC token: each job that
 * runs Pulumi assumes the stack's AWS role (whose trust policy admits only that stack's GitHub
 * environment). Absent: Pulumi Cloud, with the pulumiAccessToken secret.
 */
export const backendSchema = z.strictObject({
    url: z
        .string()
        .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[A-Za-z0-9._/-]*)?(?:\?region=[a-z0-9-]+)?$/, {
            error: "must be an S3 backend URL such as s3://acme-pulumi-state/web-app?region=eu-west-1 (the workflows reach S3 only; for Pulumi Cloud leave backend out)",
        }),
    awsRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/, {
        error: "must be the ARN of the IAM role the stack's workflow jobs assume, such as arn:aws:iam::123456789012:role/pulumi-staging",
    }),
    awsRegion: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]$/, {
        error: "must be an AWS region such as eu-west-1",
    }),
});
