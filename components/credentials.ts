/**
 * Every GitHub Actions secret and variable the pipeline declares: its name, the config key its value
 * comes from, and the environment that holds it. The secrets themselves (name, scope, description)
 * are rows of the table in config/secrets.ts; this module applies their scopes to a stack. index.ts declares exactly what `stackCredentials`
 * lists, the workflows read the names from here, and the reachability table
 * (components/workflows/reachability.ts) is computed from the same list, so a name is written once.
 *
 * There are no repository secrets: a repository secret is readable by a workflow of any branch,
 * pull requests from the repository included. Each credential is a secret of the environment that
 * needs it, and GitHub hands an environment's secrets only to a job bound to that environment once
 * its protection rules (required reviewers, deployment branches and tags) have passed:
 * https://docs.github.com/en/actions/reference/workflows-and-actions/deployments-and-environments#environment-secrets
 */
import type { PipelineConfig } from "../config";
import { SecretConfigKey, secretNames, secretsOfScope } from "../config/secrets";

export { SecretConfigKey, secretNames };

/** The stacks the CD workflows deploy; each deploys through the GitHub environment of its own name. */
export const deployStacks = { staging: "staging", production: "production" } as const;

/**
 * The environment of the pull-request preview. The staging stack declares it with what a
 * `pulumi preview -s staging` needs and nothing else; it admits only pull-request runs
 * (`refs/pull/<n>/merge`, the GITHUB_REF of a pull_request run).
 */
export const previewEnvironment = {
    name: "preview",
    /** GitHub matches deployment branch rules against GITHUB_REF; `*` does not match `/`. */
    branchPatterns: ["refs/pull/*/merge"],
} as const;

/**
 * The environment of drift.yml's staging check. The staging stack declares it with what
 * `pulumi preview --refresh -s staging` needs and nothing else; it admits only runs of the main
 * branch (where scheduled and on-demand runs run).
 */
export const driftEnvironment = { name: "drift" } as const;

/** The environment of the Slack notification jobs, declared by the owning stack when Slack is on. */
export const notificationsEnvironment = "notifications";

/**
 * GitHub variable names. Host addresses and the deploy user are in the committed stack file, in
 * resource names and in every preview, so they are not secret; the App's client ID is public.
 */
export const variableNames = {
    deployUser: "DEPLOY_USER",
    githubAppClientId: "PIPELINE_APP_CLIENT_ID",
    /** An S3 backend: its URL, the AWS role the stack's jobs assume through OIDC, its region. */
    backendUrl: "PULUMI_BACKEND_URL",
    backendRole: "PULUMI_BACKEND_ROLE",
    backendRegion: "PULUMI_BACKEND_REGION",
} as const;

/** The variable holding an environment's deploy hosts: DEPLOY_HOST_STAGING, DEPLOY_HOST_PROD, ... */
export function deployHostVariableName(environment: string): string {
    const suffix =
        environment === "production" ? "PROD" : environment.toUpperCase().replace(/[^A-Z0-9]/g, "_");
    return `DEPLOY_HOST_${suffix}`;
}

/** The credentials a deploy job needs, one set per stack in its own environment. */
export const deploySecretKeys: readonly SecretConfigKey[] = secretsOfScope("deploy", "deploy and preview");

/** What `pulumi preview` of a stack needs: its state (the token) and its config (the passphrase). */
const previewSecretKeys: readonly SecretConfigKey[] = secretsOfScope("deploy and preview");

/**
 * Whether the stack's deploy job previews the whole stack, GitHub side included, before it
 * releases: production does, with a GitHub App token (its reviewers are looked up by team).
 */
export function previewsWithApp(stack: string): boolean {
    return stack === deployStacks.production;
}

/** One secret or variable a stack declares. */
export interface DeclaredCredential {
    readonly kind: "secret" | "variable";
    /** The GitHub environment that holds it. */
    readonly environment: string;
    readonly name: string;
    /** The stack whose credential it is (for a Pulumi credential: the stack it decrypts). */
    readonly stack: string;
    /** Where the value comes from: a secret config key, or a plain value from the stack's config. */
    readonly source: { readonly secret: SecretConfigKey } | { readonly value: string };
}

/** An environment a stack declares besides its own, with its deployment rules. */
export interface ExtraEnvironment {
    readonly name: string;
    readonly branchPatterns: readonly string[];
    readonly tagPatterns: readonly string[];
}

/**
 * The secrets and variables a stack declares, in which environment. Every stack with a github
 * section declares its deploy credentials in its own environment; the staging stack also declares
 * the preview environment's; the owning stack the Slack webhook when Slack is on.
 */
export function stackCredentials(config: PipelineConfig): DeclaredCredential[] {
    if (!config.github || !config.deploy) return [];
    const env = config.environment.name;
    const stack = config.stack;
    const secret = (environment: string, key: SecretConfigKey): DeclaredCredential => ({
        kind: "secret",
        environment,
        name: secretNames[key],
        stack,
        source: { secret: key },
    });
    const variable = (environment: string, name: string, value: string): DeclaredCredential => ({
        kind: "variable",
        environment,
        name,
        stack,
        source: { value },
    });
    // With an S3 backend, the jobs reach the state through the stack's AWS role (OIDC), not a token.
    const backend = config.backend;
    const pulumiSecret = (k: SecretConfigKey) => !(backend && k === "pulumiAccessToken");
    const backendVariables = (environment: string): DeclaredCredential[] =>
        backend
            ? [
                  variable(environment, variableNames.backendUrl, backend.url),
                  variable(environment, variableNames.backendRole, backend.awsRoleArn),
                  variable(environment, variableNames.backendRegion, backend.awsRegion),
              ]
            : [];
    const out: DeclaredCredential[] = deploySecretKeys.filter(pulumiSecret).map((k) => secret(env, k));
    out.push(...backendVariables(env));
    out.push(variable(env, variableNames.deployUser, config.deploy.user));
    out.push(variable(env, deployHostVariableName(env), config.deploy.hosts.map((h) => h.address).join(",")));
    if (previewsWithApp(stack)) {
        out.push(...secretsOfScope("production preview").map((k) => secret(env, k)));
        out.push(variable(env, variableNames.githubAppClientId, config.githubApp?.clientId ?? ""));
    }
    if (stack === deployStacks.staging) {
        for (const environment of [previewEnvironment.name, driftEnvironment.name]) {
            out.push(...previewSecretKeys.filter(pulumiSecret).map((k) => secret(environment, k)));
            out.push(...backendVariables(environment));
        }
    }
    if (config.github.ownsRepositoryObjects && config.workflows.slack) {
        out.push(...secretsOfScope("notifications").map((k) => secret(notificationsEnvironment, k)));
    }
    return out;
}

/** The environments a stack declares besides its own deployment environment. */
export function extraEnvironments(config: PipelineConfig): ExtraEnvironment[] {
    if (!config.github || !config.deploy) return [];
    const out: ExtraEnvironment[] = [];
    if (config.stack === deployStacks.staging) {
        out.push({
            name: previewEnvironment.name,
            branchPatterns: previewEnvironment.branchPatterns,
            tagPatterns: [],
        });
        out.push({
            name: driftEnvironment.name,
            branchPatterns: [config.github.branches.main],
            tagPatterns: [],
        });
    }
    if (config.github.ownsRepositoryObjects && config.workflows.slack) {
        // The CD workflows run from the develop branch (staging) and release tags (production).
        out.push({
            name: notificationsEnvironment,
            branchPatterns: [config.github.branches.develop],
            tagPatterns: config.environment.deployFrom.tags,
        });
    }
    return out;
}

/** The secret config keys a stack needs set, because it declares a secret from each. */
export function requiredSecretKeys(config: PipelineConfig): Set<SecretConfigKey> {
    const keys = new Set<SecretConfigKey>();
    for (const c of stackCredentials(config)) if ("secret" in c.source) keys.add(c.source.secret);
    if (config.deploy) keys.add("deploySshKey");
    return keys;
}
