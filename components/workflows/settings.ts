import { PipelineConfig } from "../../config";
import { parseImageRepository } from "../deploy/registry";
import { releaseTagPatterns } from "./names";

/** What the workflow files are rendered from: the parts of the owning stack's validated config they use. */
export interface WorkflowRenderSettings {
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
    /** Tag patterns that release to production: releaseTagPatterns, unless a test overrides them. */
    readonly releaseTags: readonly string[];
    /** URL paths the CD workflows smoke-test after a deploy; the health path comes first. */
    readonly smokePaths: readonly string[];
    /** Node.js major version the Pulumi program runs on in the workflows. */
    readonly nodeVersion: string;
    /** The Pulumi project's name (Pulumi.yaml), part of every resource URN. */
    readonly project: string;
    /** Where the stacks' state is: Pulumi Cloud (a token), or S3 (reached through OIDC). */
    readonly backend: "cloud" | "s3";
    /** The app repository's owner and name, for status badge links. */
    readonly owner: string;
    readonly repository: string;
}

export { releaseTagPatterns };

/**
 * The stacks the CD workflows deploy. Each deploys to the GitHub environment of the same name
 * (config requires environment.name to equal the stack name), so one name serves as both.
 */
export { deployStacks } from "../credentials";

/** Node.js major version for the Pulumi program: 20 reached end of life on 2026-04-30. */
export const nodeVersion = "24";

/** The registry host of an image repository, or undefined when it is Docker Hub (docker login's default). */
export function registryOf(image: string): string | undefined {
    const repository = parseImageRepository(image);
    return repository.dockerHub ? undefined : repository.registry;
}

/**
 * Derives the workflow settings from a stack's config. The workflow files are declared by the stack
 * that owns the repository-wide objects, so they are rendered from that stack's config; the stacks
 * they deploy are the fixed deployStacks, and the release tags the constant releaseTagPatterns.
 */
export function workflowRenderSettings(config: PipelineConfig): WorkflowRenderSettings {
    if (!config.github) {
        throw new Error(`stack ${config.stack}: workflow files need cicd-pipeline:github to be set`);
    }
    if (!config.deploy) {
        throw new Error(
            `stack ${config.stack}: workflow files need cicd-pipeline:deploy (the image) to be set`,
        );
    }
    const w = config.workflows;
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
        releaseTags: releaseTagPatterns,
        smokePaths: [...new Set([config.deploy.health.path, ...config.deploy.smokePaths])],
        nodeVersion,
        project: config.project,
        backend: config.backend ? "s3" : "cloud",
        owner: config.github.owner,
        repository: config.github.repository,
    };
}
