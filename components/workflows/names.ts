/** The generated workflows' file names, for the files themselves and for what refers to them. */
export const workflowFileNames = {
    ci: "ci.yml",
    cdStaging: "cd-staging.yml",
    cdProduction: "cd-production.yml",
    securityScan: "security-scan.yml",
    preview: "pulumi-preview.yml",
    metrics: "pipeline-metrics.yml",
} as const;

/** A workflow's path in the app repository. */
export function workflowPath(file: string): string {
    return `.github/workflows/${file}`;
}
