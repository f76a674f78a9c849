/** The generated workflows' file names, for the files themselves and for what refers to them. */
export const workflowFileNames = {
    ci: "ci.yml",
    cdStaging: "cd-staging.yml",
    cdProduction: "cd-production.yml",
    securityScan: "security-scan.yml",
    preview: "pulumi-preview.yml",
    metrics: "pipeline-metrics.yml",
    drift: "drift.yml",
} as const;

/** A workflow's path in the app repository. */
export function workflowPath(file: string): string {
    return `.github/workflows/${file}`;
}

/**
 * The tag patterns that release to production: cd-production.yml triggers on them, and the
 * production stack's `environment.deployFrom.tags` must list the same patterns, or GitHub refuses
 * the approved deploy job (test/unit/workflows.test.ts checks the committed Pulumi.production.yaml).
 * The image tags come from these with docker/metadata-action's semver rules, so they must be
 * semver tags with a leading v.
 */
export const releaseTagPatterns: readonly string[] = ["v*"];

/**
 * The policy pack's directory in the Pulumi project (policy/): every preview and CD `pulumi up` of
 * the generated workflows runs it with --policy-pack, relative to the project's directory.
 */
export const policyPackDir = "policy";
