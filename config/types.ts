/** The typed result of parsing a stack's config, and the raw inputs the parse starts from. */
import { PlanFeatures } from "../components/repository/github-plan";
import type { ParsedConfig } from "./schema";
import type { Secrets } from "./secrets";

/** The github section, with what follows from it for this stack. */
type GithubSettings = NonNullable<ParsedConfig["github"]> & {
    /** Whether this stack declares the repository-wide objects. */
    readonly ownsRepositoryObjects: boolean;
    /** What GitHub offers this repository on its owner's plan. */
    readonly features: PlanFeatures;
};

/** The workflows section of the config (what the app repository holds, what ci.yml runs). */
type WorkflowsConfig = ParsedConfig["workflows"];

export interface PipelineConfig {
    readonly project: string;
    readonly stack: string;
    /** GitHub side; absent for a stack that manages no GitHub objects. */
    readonly github?: GithubSettings;
    readonly environment: ParsedConfig["environment"];
    /** Target hosts; absent for a stack that deploys nowhere. */
    readonly deploy?: NonNullable<ParsedConfig["deploy"]>;
    readonly workflows: WorkflowsConfig;
    /** The GitHub App the production deploy job previews with; absent elsewhere. */
    readonly githubApp?: NonNullable<ParsedConfig["githubApp"]>;
    /** The S3 backend the workflows reach through OIDC; absent for Pulumi Cloud. */
    readonly backend?: NonNullable<ParsedConfig["backend"]>;
    /** The app version (image tag) to serve and, when known, its digest. */
    readonly release: { readonly version?: string; readonly digest?: string };
    /** Whether this run declares only the release (the CD workflows' targeted `pulumi up`). */
    readonly releaseOnly: boolean;
    /** Secret values, each an Output marked secret. */
    readonly secrets: Secrets;
}

/** The raw inputs of `parseConfig`: what Pulumi hands the program. */
export interface RawConfig {
    readonly project: string;
    readonly stack: string;
    /** Keys as "<project>:<key>" with string values (objects arrive as JSON). */
    readonly values: Readonly<Record<string, string>>;
    /** Keys ("<project>:<key>") whose values are secrets. */
    readonly secretKeys: ReadonlySet<string>;
}

/** Options of `parseConfig`. */
export interface ParseOptions {
    /**
     * Whether missing secrets are errors. Default: true. Rendering the workflow files offline
     * needs no secret values, so it turns this off.
     */
    readonly requireSecrets?: boolean;
    /** Stacks with a committed Pulumi.<stack>.yaml; when given, github.repositoryObjectsStack must be one. */
    readonly knownStacks?: readonly string[];
}

/** Raised when the stack's configuration is invalid; lists every problem at once. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(
            `Invalid configuration for stack "${stack}" (Pulumi.${stack}.yaml):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}
