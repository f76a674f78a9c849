/**
 * The jobs of ci.yml. Each job's display name is the status check GitHub reports for it, so branch
 * protection requires exactly these names and they cannot drift from the workflow.
 */
export const ciJobs = {
    lint: { id: "lint", name: "Lint" },
    test: { id: "test", name: "Test" },
    build: { id: "build", name: "Build" },
    securityScan: { id: "security-scan", name: "Security scan" },
} as const;

/** Status checks that must pass before a pull request merges into a protected branch. */
export const requiredStatusChecks: string[] = Object.values(ciJobs).map((job) => job.name);
