/** The schema of the whole stack configuration: one entry per top-level config key, from the sections. */
import { z } from "zod";
import { backendSchema } from "./backend";
import { deploySchema } from "./deploy";
import { environmentSchema } from "./environment";
import { githubAppSchema, githubSchema } from "./github";
import { releaseKeys } from "./release";
import { workflowsSchema } from "./workflows";

/** Object-valued keys, parsed from the JSON Pulumi hands the program. */
export const objectKeys = {
    backend: backendSchema.optional(),
    github: githubSchema.optional(),
    githubApp: githubAppSchema.optional(),
    environment: environmentSchema,
    deploy: deploySchema.optional(),
    workflows: workflowsSchema,
} as const;

export const configSchema = z.strictObject({ ...objectKeys, ...releaseKeys });

/** What the schema makes of the raw config, before the cross-field rules. */
export type ParsedConfig = z.infer<typeof configSchema>;

/** Keys that earlier versions accepted, with why they are gone and what to do instead. */
export const retiredKeys: Readonly<Record<string, string>> = {
    pulumiBackendUrl:
        "the workflows reach Pulumi Cloud (pulumiAccessToken) or an S3 backend through OIDC (the backend key: url, awsRoleArn, awsRegion; see README, Backends)",
};
