import { PipelineConfig } from "../../config";

/** What the workflows need to know, taken from the owning stack's validated config. */
export interface WorkflowSettings {
    readonly pythonVersion: string;
    readonly sourceDir: string;
    readonly testDir: string;
    readonly coverageThreshold: number;
    /** Where the Pulumi project lives inside the app repository. */
    readonly pulumiDir: string;
    readonly dockerfile: string;
    readonly requirements: readonly string[];
    readonly slack: boolean;
    /** Image repository without tag, such as docker.io/acme/web-app. */
    readonly image: string;
    /** Registry host for docker login; undefined for Docker Hub (the login action's default). */
    readonly registry?: string;
    readonly mainBranch: string;
    readonly developBranch: string;
    /** Tag patterns that release to production. */
    readonly releaseTags: readonly string[];
    /** URL paths the CD workflows smoke-test after a deploy; the health path comes first. */
    readonly smokePaths: readonly string[];
    /** Node.js major version the Pulumi program runs on in the workflows. */
    readonly nodeVersion: string;
    /** Stack and environment names; both stacks are driven from the one set of workflow files. */
    readonly staging: { readonly stack: string; readonly environment: string };
    readonly production: { readonly stack: string; readonly environment: string };
}

/** The registry host of an image repository, or undefined when it is Docker Hub. */
export function registryOf(image: string): string | undefined {
    const first = image.split("/")[0];
    const isHost =
        image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    if (!isHost) return undefined;
    return first === "docker.io" || first === "index.docker.io" ? undefined : first;
}

/**
 * Derives the workflow settings from a stack's config. The workflow files are declared by the stack
 * that owns the repository-wide objects, so they are rendered from that stack's config; the other
 * stack's names are the fixed `staging` / `production` the pipeline is built around.
 */
export function workflowSettings(config: PipelineConfig): WorkflowSettings {
    if (!config.github) {
        throw new Error(`stack ${config.stack}: workflow files need cicd-pipeline:github to be set`);
    }
    if (!config.deploy) {
        throw new Error(
            `stack ${config.stack}: workflow files need cicd-pipeline:deploy (the image) to be set`,
        );
    }
    const w = config.workflows;
    const env = config.environment;
    // The production environment's own tag patterns when this stack is production; else the seed's v*.
    const releaseTags =
        env.name === "production" && env.deployFrom.tags.length > 0 ? env.deployFrom.tags : ["v*"];
    return {
        pythonVersion: w.pythonVersion,
        sourceDir: w.sourceDir,
        testDir: w.testDir,
        coverageThreshold: w.coverageThreshold,
        pulumiDir: w.pulumiDir,
        dockerfile: w.dockerfile,
        requirements: w.requirements,
        slack: w.slack,
        image: config.deploy.image,
        registry: registryOf(config.deploy.image),
        mainBranch: config.github.branches.main,
        developBranch: config.github.branches.develop,
        releaseTags,
        smokePaths: [...new Set([config.deploy.health.path, ...config.deploy.smokePaths])],
        nodeVersion: "20",
        staging: { stack: "staging", environment: "staging" },
        production: { stack: "production", environment: "production" },
    };
}
